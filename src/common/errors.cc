#include "common/errors.h"

#include "absl/strings/cord.h"

namespace kumo {

absl::Status Ec2Error(absl::StatusCode canonical, std::string_view ec2_code,
                      std::string_view message) {
  absl::Status s(canonical, std::string(message));
  s.SetPayload(std::string(kEc2CodePayload), absl::Cord(std::string(ec2_code)));
  return s;
}

std::string Ec2CodeOf(const absl::Status& status) {
  if (auto p = status.GetPayload(std::string(kEc2CodePayload))) return std::string(*p);
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return "";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return "InvalidParameterValue";
    case absl::StatusCode::kUnauthenticated:
      return "AuthFailure";
    case absl::StatusCode::kPermissionDenied:
      return "UnauthorizedOperation";
    case absl::StatusCode::kResourceExhausted:
      return "ResourceLimitExceeded";
    case absl::StatusCode::kFailedPrecondition:
      return "IncorrectState";
    case absl::StatusCode::kAlreadyExists:
      return "InvalidParameterValue";
    case absl::StatusCode::kUnimplemented:
      return "InvalidAction";
    case absl::StatusCode::kUnavailable:
      return "Unavailable";
    default:
      return "InternalError";
  }
}

absl::Status InvalidParameterValue(std::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterValue", message);
}
absl::Status MissingParameter(std::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "MissingParameter", message);
}
absl::Status UnknownParameter(std::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "UnknownParameter", message);
}
absl::Status InvalidParameterCombination(std::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterCombination", message);
}
absl::Status InvalidParameter(std::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameter", message);
}
absl::Status AuthFailure(std::string_view message) {
  return Ec2Error(absl::StatusCode::kUnauthenticated, "AuthFailure", message);
}

}  // namespace kumo
