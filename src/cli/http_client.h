// The kumo CLI's calls to a running kumod: the admin API (signed with the data dir's operator
// credentials) and the EC2 Query API (signed with an aws profile's keys), over plain HTTP.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/http_post.h"

namespace kumo::cli {

using kumo::HttpPost;
using kumo::HttpReply;

struct Credentials {
  std::string access_key_id, secret_access_key, region, endpoint;
};

// An aws profile from the shared files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE); endpoint
// and region fall back to the running daemon's.
absl::StatusOr<Credentials> ProfileCredentials(const std::string& profile,
                                               const std::string& data_dir);

// Calls an EC2 action (form parameters besides Action and Version); the XML answer, or the EC2
// error as a status whose message is "Code: Message".
absl::StatusOr<std::string> Ec2Call(const Credentials& c, const std::string& action,
                                    const std::vector<std::pair<std::string, std::string>>& params);

// Calls a JSON 1.1 operation on the same endpoint ("KumoBilling.GetBill", signed for `service`);
// the parsed answer, or the error as a status whose message is "Type: message".
absl::StatusOr<std::string> JsonCall(const Credentials& c, const std::string& service,
                                     const std::string& target, const std::string& body);

// The texts of every <tag>…</tag> in xml, in order (our own responses: no attributes on these
// elements, no CDATA; entities decoded).
std::vector<std::string> XmlTexts(const std::string& xml, const std::string& tag);

}  // namespace kumo::cli
