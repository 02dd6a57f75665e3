// A plain-HTTP POST with a deadline: the kumo CLI's calls to kumod and kumod's webhooks.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kumo {

struct HttpReply {
  int status = 0;
  std::string body;
};

// "127.0.0.1:8787" of "http://127.0.0.1:8787/x".
std::string HostOf(const std::string& endpoint);

// POST target on endpoint ("http://127.0.0.1:8787") with the given headers (Host is added); the
// whole exchange must end within timeout.
absl::StatusOr<HttpReply> HttpPost(const std::string& endpoint, const std::string& target,
                                   const std::string& body,
                                   std::vector<std::pair<std::string, std::string>> headers,
                                   std::chrono::seconds timeout = std::chrono::seconds(300));

}  // namespace kumo
