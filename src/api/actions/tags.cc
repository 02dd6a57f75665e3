// CreateTags, DeleteTags, DescribeTags.
#include "services/tags.h"

#include "api/action.h"
#include "common/status_macros.h"

namespace kumo::api {

void RegisterTagActions(ActionTable& t) {
  t["CreateTags"] = WriteAction(services::CreateTags);
  t["DeleteTags"] = WriteAction(services::DeleteTags);
  t["DescribeTags"] = ReadAction(services::DescribeTags);
}

}  // namespace kumo::api
