#include "cli/http_client.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "common/clock.h"
#include "daemon/data_dir.h"

namespace kumo::cli {

namespace {

std::map<std::string, std::string> IniSection(const std::string& path, const std::string& name) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    line.erase(0, line.find_first_not_of(" \t"));
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      std::string section = line.substr(1, line.find(']') - 1);
      inside = section == name;
      continue;
    }
    size_t eq = line.find('=');
    if (!inside || eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    key.erase(key.find_last_not_of(" \t") + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r") + 1);
    out[key] = value;
  }
  return out;
}

std::string AwsPath(const char* env, const std::string& leaf) {
  if (const char* p = std::getenv(env); p && *p) return p;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.aws/" + leaf;
}

std::string FormEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string Unescape(std::string s) {
  for (auto [from, to] : {std::pair{"&lt;", "<"}, std::pair{"&gt;", ">"}, std::pair{"&quot;", "\""},
                          std::pair{"&apos;", "'"}, std::pair{"&amp;", "&"}}) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + 1)) {
      s.replace(p, strlen(from), to);
    }
  }
  return s;
}

}  // namespace

absl::StatusOr<Credentials> ProfileCredentials(const std::string& profile,
                                               const std::string& data_dir) {
  auto creds = IniSection(AwsPath("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile);
  auto config = IniSection(AwsPath("AWS_CONFIG_FILE", "config"),
                           profile == "default" ? profile : "profile " + profile);
  Credentials c{creds["aws_access_key_id"], creds["aws_secret_access_key"], config["region"],
                config["endpoint_url"]};
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return absl::NotFoundError("No keys for profile '" + profile +
                               "' in the aws credentials file (kumo account create "
                               "--write-profile writes one)");
  }
  std::ifstream in(daemon::DataDir::RuntimeInfo(data_dir));
  nlohmann::json info = nlohmann::json::parse(in, nullptr, false);
  if (!info.is_discarded() && info.is_object()) {
    if (c.endpoint.empty()) c.endpoint = info.value("endpoint", "");
    if (c.region.empty() && info.contains("regions") && !info["regions"].empty()) {
      c.region = info["regions"][0];
    }
  }
  if (c.endpoint.empty()) c.endpoint = "http://127.0.0.1:8787";
  if (c.region.empty()) c.region = "eu-west-1";
  return c;
}

absl::StatusOr<std::string> Ec2Call(
    const Credentials& c, const std::string& action,
    const std::vector<std::pair<std::string, std::string>>& params) {
  std::string body = "Action=" + action + "&Version=2016-11-15";
  for (const auto& [k, v] : params) body += "&" + FormEncode(k) + "=" + FormEncode(v);
  auth::Signer signer(c.access_key_id, c.secret_access_key, c.region, "ec2");
  auto headers = signer.SignPostForm(HostOf(c.endpoint), body, SystemClock().Now());
  auto reply = HttpPost(c.endpoint, "/", body, {headers.begin(), headers.end()});
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    auto code = XmlTexts(reply->body, "Code"), message = XmlTexts(reply->body, "Message");
    return absl::FailedPreconditionError(
        (code.empty() ? "HTTP " + std::to_string(reply->status) : code[0]) + ": " +
        (message.empty() ? "" : message[0]));
  }
  return reply->body;
}

absl::StatusOr<std::string> JsonCall(const Credentials& c, const std::string& service,
                                     const std::string& target, const std::string& body) {
  std::string host = HostOf(c.endpoint);
  std::vector<std::pair<std::string_view, std::string_view>> hv = {
      {"Host", host}, {"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", target}};
  auth::HttpRequestView view{"POST", "/", "", hv, body};
  auth::Signer signer(c.access_key_id, c.secret_access_key, c.region, service);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", target}};
  for (auto& h : signer.Sign(view, SystemClock().Now())) headers.push_back(h);
  auto reply = HttpPost(c.endpoint, "/", body, headers);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    // {"__type": "ValidationException", "message": "…"}
    auto err = nlohmann::json::parse(reply->body, nullptr, false);
    std::string type = "HTTP " + std::to_string(reply->status), message = reply->body;
    if (err.is_object()) {
      type = err.value("__type", type);
      message = err.value("message", message);
    }
    return absl::FailedPreconditionError(type + ": " + message);
  }
  return reply->body;
}

std::vector<std::string> XmlTexts(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t p = xml.find(open); p != std::string::npos; p = xml.find(open, p)) {
    p += open.size();
    size_t e = xml.find(close, p);
    if (e == std::string::npos) break;
    out.push_back(Unescape(xml.substr(p, e - p)));
    p = e + close.size();
  }
  return out;
}

}  // namespace kumo::cli
