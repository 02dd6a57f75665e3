// The EC2 Query endpoint, independent of the HTTP transport: parse → authenticate → decode
// against the model → DryRun / idempotency → call the action → render XML. No business logic
// lives here.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "api/action.h"
#include "auth/sigv4.h"

namespace kumo::api {

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/xml;charset=UTF-8";
  std::string request_id;
  // Further headers, set as given (the console's caching and security headers).
  std::vector<std::pair<std::string, std::string>> headers;
};

class Ec2Api {
 public:
  explicit Ec2Api(Deps deps) : deps_(deps), actions_(AllActions()) {}

  HttpResponse Handle(const auth::HttpRequestView& request);

  // For the coverage check: every model operation must have a handler and vice versa.
  const ActionTable& actions() const { return actions_; }

 private:
  absl::StatusOr<HttpResponse> HandleAuthenticated(const auth::HttpRequestView& request,
                                                   const std::string& request_id);

  Deps deps_;
  ActionTable actions_;
};

}  // namespace kumo::api
