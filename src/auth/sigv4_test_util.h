// Helpers shared by the SigV4 tests: requests that own their bytes, and raw HTTP captures.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "auth/sigv4.h"
#include "common/clock.h"
#include "common/errors.h"

namespace kumo::auth::testing {

inline constexpr char kAccessKey[] = "AKIDEXAMPLE";
inline constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// HttpRequestView only borrows; tests keep the bytes here and take views on demand.
struct OwnedRequest {
  std::string method = "GET";
  std::string path = "/";
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  HttpRequestView View() const {
    HttpRequestView v;
    v.method = method;
    v.path = path;
    v.query = query;
    for (const auto& [n, val] : headers) v.headers.emplace_back(n, val);
    v.body = body;
    return v;
  }

  std::string* Header(std::string_view name) {
    for (auto& [n, v] : headers) {
      if (n.size() == name.size() &&
          std::equal(n.begin(), n.end(), name.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        return &v;
      }
    }
    return nullptr;
  }
};

inline TimePoint At(const std::string& amz_date) {
  TimePoint t;
  if (!ParseAmzDate(amz_date, &t)) std::abort();
  return t;
}

// Parses one HTTP/1.1 request as captured off the wire ("METHOD target HTTP/1.1\r\n" headers,
// blank line, body). Tolerates bare '\n' line ends, as the AWS suite's .req files use.
inline OwnedRequest ParseRawHttp(const std::string& raw) {
  OwnedRequest r;
  size_t head_end = raw.find("\r\n\r\n");
  size_t sep = 4;
  if (head_end == std::string::npos) {
    head_end = raw.find("\n\n");
    sep = 2;
  }
  std::string head = raw.substr(0, head_end);
  r.body = head_end == std::string::npos ? "" : raw.substr(head_end + sep);
  std::istringstream lines(head);
  std::string line;
  bool first = true;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first) {
      first = false;
      size_t sp1 = line.find(' ');
      size_t sp2 = line.rfind(' ');
      r.method = line.substr(0, sp1);
      std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t q = target.find('?');
      r.path = target.substr(0, q);
      r.query = q == std::string::npos ? "" : target.substr(q + 1);
      continue;
    }
    size_t colon = line.find(':');
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers.emplace_back(line.substr(0, colon), value);
  }
  return r;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses and verifies in one go, as the API layer will.
inline absl::Status ParseAndVerify(const OwnedRequest& r, std::string_view secret, TimePoint now,
                                   const VerifyOptions& options = {}) {
  HttpRequestView view = r.View();
  auto sig = ParseSignature(view);
  if (!sig.ok()) return sig.status();
  return VerifySignature(view, *sig, secret, now, options);
}

}  // namespace kumo::auth::testing
