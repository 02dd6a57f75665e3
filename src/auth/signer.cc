// The client half of SigV4, for tests, benchmarks and Kumo's own tools. It shares
// CanonicalRequest with the verifier, so what it signs is by construction what the server checks;
// the botocore and AWS vectors in the tests keep both honest.
#include <fmt/format.h>

#include <algorithm>

#include "auth/sigv4.h"
#include "common/encoding.h"
#include "common/hash.h"

namespace kumo::auth {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = c >= 'A' && c <= 'Z' ? char(c + 32) : c;
  return out;
}

const std::string_view* FindHeader(const HttpRequestView& req, std::string_view name) {
  for (const auto& [n, v] : req.headers) {
    if (EqualsIgnoreCase(n, name)) return &v;
  }
  return nullptr;
}

// The verifier's whitespace set (that of Python's str.split, as botocore trims).
std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

std::string HexSha256(std::string_view data) { return HexEncode(Sha256(data)); }

}  // namespace

Signer::Signer(std::string access_key_id, std::string secret_access_key, std::string region,
               std::string service, std::string session_token)
    : access_key_id_(std::move(access_key_id)),
      secret_access_key_(std::move(secret_access_key)),
      region_(std::move(region)),
      service_(std::move(service)),
      session_token_(std::move(session_token)) {}

std::string Signer::Scope(std::string_view date) const {
  return fmt::format("{}/{}/{}/{}", date, region_, service_, kTerminator);
}

std::string Signer::Signature(std::string_view date, std::string_view amz_date,
                              std::string_view canonical_request) const {
  std::string key = DeriveSigningKey(secret_access_key_, date, region_, service_);
  return HexEncode(HmacSha256(key, StringToSign(amz_date, Scope(date), canonical_request)));
}

std::vector<std::pair<std::string, std::string>> Signer::Sign(const HttpRequestView& req,
                                                              TimePoint now) const {
  const std::string amz_date = FormatAmzDate(now);
  const std::string_view date = std::string_view(amz_date).substr(0, 8);
  HttpRequestView view = req;
  view.headers.clear();
  std::vector<std::string> names;
  for (const auto& [n, v] : req.headers) {
    if (n.empty() || EqualsIgnoreCase(n, "authorization") || EqualsIgnoreCase(n, "user-agent") ||
        EqualsIgnoreCase(n, "expect") || EqualsIgnoreCase(n, "x-amz-date") ||
        (!session_token_.empty() && EqualsIgnoreCase(n, "x-amz-security-token"))) {
      continue;
    }
    view.headers.emplace_back(n, v);
    names.push_back(Lower(n));
  }
  view.headers.emplace_back("x-amz-date", amz_date);
  names.emplace_back("x-amz-date");
  if (!session_token_.empty()) {
    view.headers.emplace_back("x-amz-security-token", session_token_);
    names.emplace_back("x-amz-security-token");
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  const std::string_view* declared = FindHeader(view, "x-amz-content-sha256");
  // Trimmed as the verifier trims it: HTTP parsers differ on surrounding whitespace.
  std::string payload_hash = declared ? std::string(Trim(*declared)) : HexSha256(req.body);
  std::string canonical = CanonicalRequest(view, names, false, payload_hash);
  std::string signature = Signature(date, amz_date, canonical);

  std::string signed_list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) signed_list.push_back(';');
    signed_list += names[i];
  }
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("X-Amz-Date", amz_date);
  if (!session_token_.empty()) out.emplace_back("X-Amz-Security-Token", session_token_);
  out.emplace_back("Authorization",
                   fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kAlgorithm,
                               access_key_id_, Scope(date), signed_list, signature));
  return out;
}

std::vector<std::pair<std::string, std::string>> Signer::SignPostForm(std::string_view host,
                                                                      std::string_view body,
                                                                      TimePoint now) const {
  constexpr std::string_view kFormType = "application/x-www-form-urlencoded; charset=utf-8";
  HttpRequestView req;
  req.method = "POST";
  req.path = "/";
  req.headers = {{"Host", host}, {"Content-Type", kFormType}};
  req.body = body;
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("Host", std::string(host));
  out.emplace_back("Content-Type", std::string(kFormType));
  for (auto& h : Sign(req, now)) out.push_back(std::move(h));
  return out;
}

std::string Signer::Presign(const HttpRequestView& req, TimePoint now,
                            int64_t expires_seconds) const {
  const std::string amz_date = FormatAmzDate(now);
  const std::string_view date = std::string_view(amz_date).substr(0, 8);
  std::string query(req.query);
  auto add = [&](std::string_view name, std::string_view value) {
    if (!query.empty()) query.push_back('&');
    query += name;
    query.push_back('=');
    query += UriEncode(value, /*encode_slash=*/true);
  };
  add("X-Amz-Algorithm", kAlgorithm);
  add("X-Amz-Credential", fmt::format("{}/{}", access_key_id_, Scope(date)));
  add("X-Amz-Date", amz_date);
  add("X-Amz-Expires", std::to_string(expires_seconds));
  add("X-Amz-SignedHeaders", "host");
  if (!session_token_.empty()) add("X-Amz-Security-Token", session_token_);

  HttpRequestView view = req;
  view.query = query;
  view.headers.clear();
  for (const auto& [n, v] : req.headers) {
    if (EqualsIgnoreCase(n, "host")) view.headers.emplace_back(n, v);
  }
  static const std::string kHost[] = {"host"};
  std::string canonical = CanonicalRequest(view, kHost, true, HexSha256(req.body));
  add("X-Amz-Signature", Signature(date, amz_date, canonical));
  return query;
}

}  // namespace kumo::auth
