// Fuzzes SigV4 parsing and verification with attacker-shaped requests, and checks that whatever
// the Signer signs verifies.
//
// Input: newline-separated fields, missing ones empty:
//   Authorization value (empty: no header) \n query \n X-Amz-Date value \n path \n
//   extra header "name:value" \n body (the rest, newlines included)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sigv4.h"
#include "common/clock.h"

namespace {

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

std::string_view NextLine(std::string_view* in) {
  size_t nl = in->find('\n');
  std::string_view line = in->substr(0, nl);
  *in = nl == std::string_view::npos ? std::string_view() : in->substr(nl + 1);
  return line;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? char(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? char(b[i] + 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

// RFC 9110 token characters; an absent name counts as one (no extra header).
bool IsToken(std::string_view name) {
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// Parse and verify, at `now`; never expected to crash, whatever the outcome.
absl::Status Check(const kumo::auth::HttpRequestView& req, kumo::TimePoint now) {
  auto sig = kumo::auth::ParseSignature(req);
  if (!sig.ok()) return sig.status();
  std::string canonical;
  kumo::auth::VerifyOptions options;
  options.service = "";
  options.canonical_request_out = &canonical;
  return kumo::auth::VerifySignature(req, *sig, kSecret, now, options);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view authorization = NextLine(&in);
  std::string_view query = NextLine(&in);
  std::string_view amz_date = NextLine(&in);
  std::string_view path = NextLine(&in);
  std::string_view extra = NextLine(&in);
  std::string_view body = in;

  static const kumo::TimePoint now = [] {
    kumo::TimePoint t;
    kumo::ParseAmzDate("20150830T123600Z", &t);
    return t;
  }();

  kumo::auth::HttpRequestView req;
  req.method = body.empty() ? "GET" : "POST";
  req.path = path;
  req.query = query;
  req.body = body;
  req.headers.emplace_back("Host", "example.amazonaws.com");
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  if (!amz_date.empty()) req.headers.emplace_back("X-Amz-Date", amz_date);
  std::string_view extra_name, extra_value;
  if (size_t colon = extra.find(':'); colon != std::string_view::npos) {
    extra_name = extra.substr(0, colon);
    extra_value = extra.substr(colon + 1);
    req.headers.emplace_back(extra_name, extra_value);
  }

  kumo::auth::HttpRequestView as_given = req;
  if (!authorization.empty()) as_given.headers.emplace_back("Authorization", authorization);
  (void)Check(as_given, now);

  // Round trip: the Signer's own signatures over the same request must verify. Legitimate
  // refusals are skipped: a declared x-amz-content-sha256 that does not match the body, and
  // header names that are not HTTP tokens (a ';' or ',' cannot survive SignedHeaders).
  if (EqualsIgnoreCase(extra_name, "x-amz-content-sha256") || !IsToken(extra_name)) return 0;
  const kumo::auth::Signer signer("AKIDEXAMPLE", kSecret, "us-east-1", "ec2");
  kumo::auth::HttpRequestView signed_req = req;
  // The Signer supplies X-Amz-Date; a sender replaces any it had.
  std::erase_if(signed_req.headers,
                [](const auto& h) { return EqualsIgnoreCase(h.first, "x-amz-date"); });
  auto added = signer.Sign(req, now);
  for (const auto& [n, v] : added) signed_req.headers.emplace_back(n, v);
  // The request may already carry an Authorization header or query signature of its own, in
  // which case parsing refuses it; when parsing accepts it, verification must too.
  if (kumo::auth::ParseSignature(signed_req).ok() && !Check(signed_req, now).ok()) {
    __builtin_trap();
  }

  std::string presigned_query = signer.Presign(req, now, 60);
  kumo::auth::HttpRequestView presigned = req;
  presigned.query = presigned_query;
  if (kumo::auth::ParseSignature(presigned).ok() && !Check(presigned, now).ok()) {
    __builtin_trap();
  }
  return 0;
}
