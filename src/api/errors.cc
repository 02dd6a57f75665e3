#include "api/errors.h"

#include "api/xml_writer.h"
#include "common/errors.h"

namespace kumo::api {

int HttpStatusFor(std::string_view code, absl::StatusCode canonical) {
  if (code == "DryRunOperation") return 412;
  if (code == "AuthFailure" || code == "MissingAuthenticationToken") return 401;
  if (code == "SignatureDoesNotMatch" || code == "UnauthorizedOperation" ||
      code == "InvalidClientTokenId" || code == "OptInRequired") {
    return 403;
  }
  // Malformed or stale signatures are client errors AWS answers with 400.
  if (code == "IncompleteSignature" || code == "RequestExpired") return 400;
  if (code == "RequestLimitExceeded" || code == "Unavailable") return 503;
  switch (canonical) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnknown:
      return 500;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    default:
      return 400;
  }
}

ErrorResponse RenderError(const absl::Status& status, std::string_view request_id) {
  ErrorResponse r;
  r.code = Ec2CodeOf(status);
  r.http_status = HttpStatusFor(r.code, status.code());
  // Internal details (file paths, SQL) stay in the log; clients get EC2's generic message.
  std::string message =
      r.http_status == 500 ? "An internal error has occurred" : std::string(status.message());
  XmlWriter w;
  w.Open("Response");
  w.Open("Errors");
  w.Open("Error");
  w.Element("Code", r.code);
  w.Element("Message", message);
  w.Close();
  w.Close();
  w.Element("RequestID", request_id);
  w.Close();
  r.body = w.Take();
  return r;
}

}  // namespace kumo::api
