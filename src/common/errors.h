// EC2 error codes travel inside absl::Status as a payload, so the code is chosen where the domain
// knows it ("InvalidKeyPair.NotFound") while the canonical code still says what kind of failure it
// is. api/errors.cc turns a Status into the HTTP status and the <Response><Errors> document.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace kumo {

inline constexpr std::string_view kEc2CodePayload = "kumo.dev/ec2-code";

absl::Status Ec2Error(absl::StatusCode canonical, std::string_view ec2_code,
                      std::string_view message);

// The EC2 code carried by status, or one derived from its canonical code.
std::string Ec2CodeOf(const absl::Status& status);

// Shorthands for the codes used everywhere.
absl::Status InvalidParameterValue(std::string_view message);
absl::Status MissingParameter(std::string_view message);
absl::Status UnknownParameter(std::string_view message);
absl::Status InvalidParameterCombination(std::string_view message);
absl::Status InvalidParameter(std::string_view message);
absl::Status AuthFailure(std::string_view message);

}  // namespace kumo
