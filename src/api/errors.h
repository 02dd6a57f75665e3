// The one place where a Status becomes an EC2 error document and an HTTP status.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace kumo::api {

struct ErrorResponse {
  int http_status;
  std::string code;
  std::string body;
};

ErrorResponse RenderError(const absl::Status& status, std::string_view request_id);
int HttpStatusFor(std::string_view ec2_code, absl::StatusCode canonical);

}  // namespace kumo::api
