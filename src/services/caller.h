// Who is asking, where, and when: every service call is made on behalf of one account in one
// region, which is what keeps tenants apart.
#pragma once

#include <string>

#include "common/clock.h"

namespace kumo::services {

struct Caller {
  std::string account_id;
  std::string region;
  std::string request_id;
  TimePoint now;
};

}  // namespace kumo::services
