#include "auth/sigv4.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/hash.h"

namespace kumo::auth {
namespace {

constexpr std::string_view kSignatureMismatchMessage =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

// The ASCII whitespace Python's str.split() drops, so header trimming matches botocore.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Client text echoed in error messages: bounded, and only printable ASCII so the XML error
// document stays well-formed whatever the client sent.
std::string Printable(std::string_view s) {
  constexpr size_t kMax = 256;
  std::string out;
  out.reserve(std::min(s.size(), kMax) + 3);
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    char c = s[i];
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (s.size() > kMax) out += "...";
  return out;
}

absl::Status Incomplete(std::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "IncompleteSignature", message);
}

absl::Status Mismatch(std::string_view message) {
  return Ec2Error(absl::StatusCode::kUnauthenticated, "SignatureDoesNotMatch", message);
}

absl::Status Expired(std::string_view detail) {
  return Ec2Error(absl::StatusCode::kUnauthenticated, "RequestExpired",
                  fmt::format("Request has expired. {}", detail));
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// common/encoding's UriEncode, appending in place: the canonical request is built in one buffer.
void AppendUriEncoded(std::string* out, std::string_view text) {
  static constexpr char kHexUpper[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (IsUnreserved(c)) {
      out->push_back(char(c));
    } else {
      out->push_back('%');
      out->push_back(kHexUpper[c >> 4]);
      out->push_back(kHexUpper[c & 15]);
    }
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Query components as a server reads them. '+' is a space: botocore signs spaces as %20 but its
// URLs carry them as '+', and every SDK escapes a literal plus as %2B. A malformed escape stays
// literal rather than failing, so the worst a client gets is a signature mismatch.
std::string QueryDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexDigit(s[i + 1]);
      int lo = HexDigit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(char(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(c == '+' ? ' ' : c);
  }
  return out;
}

// Calls fn(raw_name, raw_value) for each non-empty '&'-separated piece of a raw query.
template <typename Fn>
void ForEachQueryParam(std::string_view query, Fn&& fn) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    if (eq == std::string_view::npos) {
      fn(piece, std::string_view());
    } else {
      fn(piece.substr(0, eq), piece.substr(eq + 1));
    }
  }
}

// RFC 3986 dot-segment removal plus collapsing of empty segments, as AWS normalizes non-S3
// paths, then each segment encoded once more: the raw path is already encoded on the wire, so
// this is SigV4's "double encoding".
void AppendCanonicalPath(std::string* out, std::string_view path) {
  if (path.empty() || path == "/") {
    out->push_back('/');
    return;
  }
  std::vector<std::string_view> segments;
  std::string_view rest = path;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (path.front() == '/') out->push_back('/');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out->push_back('/');
    AppendUriEncoded(out, segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) out->push_back('/');
}

void AppendCanonicalQuery(std::string* out, std::string_view query, bool presigned) {
  if (query.empty()) return;
  std::vector<std::pair<std::string, std::string>> params;
  ForEachQueryParam(query, [&](std::string_view raw_name, std::string_view raw_value) {
    std::string name = QueryDecode(raw_name);
    if (presigned && name == "X-Amz-Signature") return;
    std::pair<std::string, std::string> p;
    p.first.reserve(raw_name.size() + 8);
    AppendUriEncoded(&p.first, name);
    p.second.reserve(raw_value.size() + 8);
    AppendUriEncoded(&p.second, QueryDecode(raw_value));
    params.push_back(std::move(p));
  });
  std::sort(params.begin(), params.end());
  for (size_t i = 0; i < params.size(); ++i) {
    if (i > 0) out->push_back('&');
    *out += params[i].first;
    out->push_back('=');
    *out += params[i].second;
  }
}

// Trimmed, with each internal run of whitespace collapsed to one space.
void AppendCanonicalHeaderValue(std::string* out, std::string_view value) {
  value = Trim(value);
  bool in_space = false;
  for (char c : value) {
    if (IsSpace(c)) {
      in_space = true;
      continue;
    }
    if (in_space) out->push_back(' ');
    in_space = false;
    out->push_back(c);
  }
}

const std::string_view* FindHeader(const HttpRequestView& req, std::string_view name) {
  for (const auto& [n, v] : req.headers) {
    if (EqualsIgnoreCase(n, name)) return &v;
  }
  return nullptr;
}

int CountHeaders(const HttpRequestView& req, std::string_view name) {
  int n = 0;
  for (const auto& h : req.headers) n += EqualsIgnoreCase(h.first, name) ? 1 : 0;
  return n;
}

// "Sun, 30 Aug 2015 12:36:00 GMT" (RFC 7231's preferred form), the Date header SigV4 falls back
// to when there is no X-Amz-Date.
bool ParseHttpDate(std::string_view text, TimePoint* out) {
  size_t comma = text.find(',');
  if (comma != std::string_view::npos) text = Trim(text.substr(comma + 1));
  std::string s(text);
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  char month[4] = {};
  char zone[4] = {};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%2d %3c %4d %2d:%2d:%2d %3c%n", &day, month, &year, &hour, &minute,
                  &second, zone, &consumed) != 7 ||
      size_t(consumed) != s.size() || std::string_view(zone, 3) != "GMT") {
    return false;
  }
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (kMonths[i] == std::string_view(month, 3)) mon = i;
  }
  if (mon < 0 || day < 1 || day > 31 || year < 1970 || year > 2200 || hour > 23 || minute > 59 ||
      second > 60) {
    return false;
  }
  struct tm tm = {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  *out = std::chrono::system_clock::from_time_t(timegm(&tm));
  return true;
}

absl::StatusOr<Credential> ParseCredential(std::string_view text) {
  Credential c;
  std::string* parts[] = {&c.access_key_id, &c.date, &c.region, &c.service, &c.terminator};
  std::string_view rest = text;
  size_t n = 0;
  while (true) {
    size_t slash = rest.find('/');
    if (n < 5) *parts[n] = std::string(rest.substr(0, slash));
    ++n;
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  bool any_empty = false;
  for (std::string* p : parts) any_empty = any_empty || p->empty();
  if (n != 5 || any_empty) {
    return Incomplete(
        fmt::format("Credential must have exactly 5 slash-delimited elements, e.g. "
                    "keyid/date/region/service/term, got '{}'",
                    Printable(text)));
  }
  return c;
}

absl::StatusOr<std::vector<std::string>> ParseSignedHeaders(std::string_view text) {
  std::vector<std::string> names;
  std::string_view rest = text;
  while (true) {
    size_t semi = rest.find(';');
    std::string_view name = rest.substr(0, semi);
    if (name.empty()) {
      return Incomplete(
          fmt::format("SignedHeaders '{}' contains an empty header name", Printable(text)));
    }
    std::string lower(name);
    for (char& ch : lower) ch = LowerAscii(ch);
    names.push_back(std::move(lower));
    if (semi == std::string_view::npos) break;
    rest = rest.substr(semi + 1);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string LowerHex(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

// ParseAmzDate, restricted to years a nanosecond TimePoint holds (1678..2262): converting an
// earlier or later time_t would overflow.
bool ParseSigV4Date(const std::string& s, TimePoint* out) {
  if (s.size() < 4 || s.compare(0, 4, "1970") < 0 || s.compare(0, 4, "2200") > 0) return false;
  return ParseAmzDate(s, out);
}

absl::Status ParseAmzDateInto(std::string_view text, SignedRequest* out) {
  std::string s(Trim(text));
  if (!ParseSigV4Date(s, &out->timestamp)) {
    return Incomplete(
        fmt::format("Date must be in ISO-8601 'basic format'. Got '{}'. See "
                    "http://en.wikipedia.org/wiki/ISO_8601",
                    Printable(s)));
  }
  out->amz_date = std::move(s);
  return absl::OkStatus();
}

absl::StatusOr<SignedRequest> ParseAuthorizationHeader(const HttpRequestView& req,
                                                       std::string_view header) {
  std::string_view value = Trim(header);
  size_t space = value.find_first_of(" \t");
  std::string_view algorithm = value.substr(0, space);
  std::string_view rest =
      space == std::string_view::npos ? std::string_view() : value.substr(space + 1);
  if (algorithm != kAlgorithm && algorithm.starts_with("AWS4-")) {
    return Incomplete(fmt::format("Unsupported AWS 'algorithm': '{}'; use '{}'",
                                  Printable(algorithm), kAlgorithm));
  }
  std::string_view credential, signed_headers, signature;
  bool has_credential = false, has_signed_headers = false, has_signature = false;
  if (algorithm == kAlgorithm) {
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view part = Trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (part.empty()) continue;
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        return Incomplete(fmt::format(
            "'{}' not a valid key=value pair (missing equal-sign) in Authorization header: '{}'.",
            Printable(part), Printable(value)));
      }
      std::string_view key = Trim(part.substr(0, eq));
      std::string_view val = Trim(part.substr(eq + 1));
      std::string_view* slot = nullptr;
      bool* seen = nullptr;
      if (key == "Credential") {
        slot = &credential;
        seen = &has_credential;
      } else if (key == "SignedHeaders") {
        slot = &signed_headers;
        seen = &has_signed_headers;
      } else if (key == "Signature") {
        slot = &signature;
        seen = &has_signature;
      } else {
        continue;  // AWS ignores parameters it does not know
      }
      if (*seen) {
        return Incomplete(fmt::format("Authorization header has '{}' more than once: '{}'.", key,
                                      Printable(value)));
      }
      *seen = true;
      *slot = val;
    }
  }
  const std::string_view* amz_date = FindHeader(req, "x-amz-date");
  const std::string_view* date = amz_date ? amz_date : FindHeader(req, "date");
  // One message naming everything missing, worded as AWS words it.
  std::string missing;
  if (credential.empty()) missing += "Authorization header requires 'Credential' parameter. ";
  if (signature.empty()) missing += "Authorization header requires 'Signature' parameter. ";
  if (signed_headers.empty()) {
    missing += "Authorization header requires 'SignedHeaders' parameter. ";
  }
  if (date == nullptr) {
    missing +=
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
        "header. ";
  }
  if (!missing.empty()) {
    return Incomplete(fmt::format("{}Authorization={}", missing, Printable(value)));
  }

  SignedRequest out;
  auto cred = ParseCredential(credential);
  if (!cred.ok()) return cred.status();
  out.credential = std::move(*cred);
  auto names = ParseSignedHeaders(signed_headers);
  if (!names.ok()) return names.status();
  out.signed_headers = std::move(*names);
  out.signature = LowerHex(signature);
  if (amz_date != nullptr) {
    absl::Status s = ParseAmzDateInto(*amz_date, &out);
    if (!s.ok()) return s;
  } else {
    std::string s(Trim(*date));
    if (!ParseSigV4Date(s, &out.timestamp) && !ParseHttpDate(s, &out.timestamp)) {
      return Incomplete(
          fmt::format("Date header must be an RFC 7231 date or ISO-8601 'basic format'. Got '{}'.",
                      Printable(s)));
    }
    out.amz_date = FormatAmzDate(out.timestamp);
  }
  if (const std::string_view* token = FindHeader(req, "x-amz-security-token")) {
    out.security_token = std::string(Trim(*token));
  }
  return out;
}

absl::StatusOr<SignedRequest> ParsePresignedQuery(const HttpRequestView& req) {
  // The first six are required; the security token is optional.
  static constexpr std::string_view kNames[] = {
      "X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Signature",     "X-Amz-Date",
      "X-Amz-SignedHeaders", "X-Amz-Expires",    "X-Amz-Security-Token"};
  constexpr int kFields = 7;
  std::string values[kFields];
  bool seen[kFields] = {};
  std::string duplicate;
  ForEachQueryParam(req.query, [&](std::string_view raw_name, std::string_view raw_value) {
    if (!raw_name.starts_with("X-Amz-") && raw_name.find('%') == std::string_view::npos) {
      return;  // cheap skip for the operation's own parameters
    }
    std::string name = QueryDecode(raw_name);
    for (int i = 0; i < kFields; ++i) {
      if (name != kNames[i]) continue;
      if (seen[i]) duplicate = name;
      seen[i] = true;
      values[i] = QueryDecode(raw_value);
    }
  });
  if (!duplicate.empty()) {
    return Incomplete(
        fmt::format("Query-string parameter '{}' appears more than once.", Printable(duplicate)));
  }
  for (int i = 0; i < 6; ++i) {
    if (!seen[i] || values[i].empty()) {
      return Incomplete(
          "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
          "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', and 'X-Amz-Expires'. "
          "Re-examine the query-string parameters.");
    }
  }
  if (values[0] != kAlgorithm) {
    return Incomplete(fmt::format("Unsupported AWS 'algorithm': '{}'; use '{}'",
                                  Printable(values[0]), kAlgorithm));
  }
  SignedRequest out;
  out.presigned = true;
  auto cred = ParseCredential(values[1]);
  if (!cred.ok()) return cred.status();
  out.credential = std::move(*cred);
  out.signature = LowerHex(values[2]);
  absl::Status s = ParseAmzDateInto(values[3], &out);
  if (!s.ok()) return s;
  auto names = ParseSignedHeaders(values[4]);
  if (!names.ok()) return names.status();
  out.signed_headers = std::move(*names);
  const std::string& expires = values[5];
  int64_t seconds = 0;
  bool numeric = expires.size() <= 7;
  for (char c : expires) {
    numeric = numeric && c >= '0' && c <= '9';
    if (numeric) seconds = seconds * 10 + (c - '0');
  }
  if (!numeric || seconds < 1 || seconds > kMaxPresignExpiresSeconds) {
    return Incomplete(fmt::format("X-Amz-Expires must be between 1 and {} seconds, got '{}'.",
                                  kMaxPresignExpiresSeconds, Printable(expires)));
  }
  out.expires_seconds = seconds;
  out.security_token = std::move(values[6]);
  return out;
}

// Whether the query carries any part of a presigned signature.
bool HasQuerySignature(std::string_view query) {
  bool found = false;
  ForEachQueryParam(query, [&](std::string_view raw_name, std::string_view) {
    if (found) return;
    if (raw_name.find('%') != std::string_view::npos ||
        raw_name.find('+') != std::string_view::npos) {
      std::string name = QueryDecode(raw_name);
      found = name == "X-Amz-Algorithm" || name == "X-Amz-Credential" || name == "X-Amz-Signature";
    } else {
      found = raw_name == "X-Amz-Algorithm" || raw_name == "X-Amz-Credential" ||
              raw_name == "X-Amz-Signature";
    }
  });
  return found;
}

std::string HexSha256(std::string_view data) { return HexEncode(Sha256(data)); }

std::string SignatureFor(std::string_view signing_key, std::string_view amz_date,
                         std::string_view scope, std::string_view canonical_request) {
  return HexEncode(HmacSha256(signing_key, StringToSign(amz_date, scope, canonical_request)));
}

std::string ScopeOf(const Credential& c) {
  return fmt::format("{}/{}/{}/{}", c.date, c.region, c.service, c.terminator);
}

absl::Status CheckTime(const SignedRequest& sig, TimePoint now) {
  if (sig.presigned) {
    if (sig.expires_seconds < 1 || sig.expires_seconds > kMaxPresignExpiresSeconds) {
      return Incomplete(fmt::format("X-Amz-Expires must be between 1 and {} seconds.",
                                    kMaxPresignExpiresSeconds));
    }
    if (sig.timestamp - now > kMaxClockSkew) {
      return Expired(
          fmt::format("Signature not yet current: {} is still later than {} ({} + 15 min.)",
                      sig.amz_date, FormatAmzDate(now + kMaxClockSkew), FormatAmzDate(now)));
    }
    TimePoint expiry = sig.timestamp + std::chrono::seconds(sig.expires_seconds);
    if (now > expiry) {
      return Expired(fmt::format("Presigned URL expired at {}; it is now {}.",
                                 FormatAmzDate(expiry), FormatAmzDate(now)));
    }
    return absl::OkStatus();
  }
  if (now - sig.timestamp > kMaxClockSkew) {
    return Expired(fmt::format("Signature expired: {} is now earlier than {} ({} - 15 min.)",
                               sig.amz_date, FormatAmzDate(now - kMaxClockSkew),
                               FormatAmzDate(now)));
  }
  if (sig.timestamp - now > kMaxClockSkew) {
    return Expired(
        fmt::format("Signature not yet current: {} is still later than {} ({} + 15 min.)",
                    sig.amz_date, FormatAmzDate(now + kMaxClockSkew), FormatAmzDate(now)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DeriveSigningKey(std::string_view secret_access_key, std::string_view date,
                             std::string_view region, std::string_view service) {
  std::string k;
  k.reserve(4 + secret_access_key.size());
  k += "AWS4";
  k += secret_access_key;
  std::string k_date = HmacSha256(k, date);
  std::string k_region = HmacSha256(k_date, region);
  std::string k_service = HmacSha256(k_region, service);
  return HmacSha256(k_service, kTerminator);
}

std::string CanonicalRequest(const HttpRequestView& req,
                             std::span<const std::string> signed_headers, bool presigned,
                             std::string_view payload_hash) {
  std::string out;
  size_t estimate =
      req.method.size() + req.path.size() * 3 + req.query.size() * 2 + payload_hash.size() + 16;
  for (const auto& h : req.headers) estimate += h.first.size() + h.second.size() + 2;
  out.reserve(estimate);
  out += req.method;
  out.push_back('\n');
  AppendCanonicalPath(&out, req.path);
  out.push_back('\n');
  AppendCanonicalQuery(&out, req.query, presigned);
  out.push_back('\n');
  for (const std::string& name : signed_headers) {
    out += name;
    out.push_back(':');
    bool first = true;
    for (const auto& [n, v] : req.headers) {
      if (!EqualsIgnoreCase(n, name)) continue;
      if (!first) out.push_back(',');
      first = false;
      AppendCanonicalHeaderValue(&out, v);
    }
    out.push_back('\n');
  }
  out.push_back('\n');
  for (size_t i = 0; i < signed_headers.size(); ++i) {
    if (i > 0) out.push_back(';');
    out += signed_headers[i];
  }
  out.push_back('\n');
  out += payload_hash;
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out;
  out.reserve(kAlgorithm.size() + amz_date.size() + scope.size() + 64 + 3);
  out += kAlgorithm;
  out.push_back('\n');
  out += amz_date;
  out.push_back('\n');
  out += scope;
  out.push_back('\n');
  out += HexSha256(canonical_request);
  return out;
}

absl::StatusOr<SignedRequest> ParseSignature(const HttpRequestView& req) {
  int auth_headers = CountHeaders(req, "authorization");
  bool in_query = HasQuerySignature(req.query);
  if (auth_headers == 0 && !in_query) {
    return AuthFailure(
        "The request must contain either a valid (registered) AWS access key ID or X.509 "
        "certificate; sign it with AWS Signature Version 4.");
  }
  if (auth_headers > 0 && in_query) {
    return InvalidParameterCombination(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the "
        "Authorization header should be specified");
  }
  if (auth_headers > 1) return Incomplete("The request has more than one Authorization header.");
  if (in_query) return ParsePresignedQuery(req);
  return ParseAuthorizationHeader(req, *FindHeader(req, "authorization"));
}

absl::Status VerifySignature(const HttpRequestView& req, const SignedRequest& sig,
                             std::string_view secret_access_key, TimePoint now,
                             const VerifyOptions& options) {
  const Credential& c = sig.credential;
  return VerifySignatureWithKey(
      req, sig, DeriveSigningKey(secret_access_key, c.date, c.region, c.service), now, options);
}

absl::Status VerifySignatureWithKey(const HttpRequestView& req, const SignedRequest& sig,
                                    std::string_view signing_key, TimePoint now,
                                    const VerifyOptions& options) {
  const Credential& c = sig.credential;
  if (c.terminator != kTerminator) {
    return Mismatch(
        fmt::format("Credential should be scoped with a valid terminator: '{}', not '{}'.",
                    kTerminator, Printable(c.terminator)));
  }
  if (!options.service.empty() && c.service != options.service) {
    return Mismatch(
        fmt::format("Credential should be scoped to correct service: '{}'.", options.service));
  }
  if (!options.region.empty() && c.region != options.region) {
    return Mismatch(fmt::format("Credential should be scoped to a valid region, not '{}'.",
                                Printable(c.region)));
  }
  if (sig.amz_date.size() < 8 || c.date != std::string_view(sig.amz_date).substr(0, 8)) {
    return Mismatch(fmt::format(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '{}' != '{}', from '{}'.",
        Printable(c.date), Printable(std::string_view(sig.amz_date).substr(0, 8)),
        Printable(sig.amz_date)));
  }
  if (!std::binary_search(sig.signed_headers.begin(), sig.signed_headers.end(), "host")) {
    return Incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  absl::Status time = CheckTime(sig, now);
  if (!time.ok()) return time;

  std::string body_hash;
  std::string_view payload_hash;
  const std::string_view* declared = FindHeader(req, "x-amz-content-sha256");
  std::string_view declared_hash = declared ? Trim(*declared) : std::string_view();
  if (declared != nullptr && declared_hash == kUnsignedPayload) {
    if (!options.allow_unsigned_payload) {
      return Incomplete(
          "This service requires a signed payload; x-amz-content-sha256 may not be "
          "UNSIGNED-PAYLOAD.");
    }
    payload_hash = declared_hash;
  } else {
    body_hash = HexSha256(req.body);
    if (declared != nullptr) {
      if (!EqualsIgnoreCase(declared_hash, body_hash)) {
        return Ec2Error(absl::StatusCode::kInvalidArgument, "XAmzContentSHA256Mismatch",
                        "The provided 'x-amz-content-sha256' header does not match what was "
                        "computed.");
      }
      payload_hash = declared_hash;  // signed as sent, whatever its case
    } else {
      payload_hash = body_hash;
    }
  }

  const std::string scope = ScopeOf(c);
  std::string canonical = CanonicalRequest(req, sig.signed_headers, sig.presigned, payload_hash);
  bool ok =
      ConstantTimeEquals(SignatureFor(signing_key, sig.amz_date, scope, canonical), sig.signature);
  // S3-style presigned URLs sign UNSIGNED-PAYLOAD where other services sign the (empty) body's
  // hash. Accepting both costs nothing for a body-less request and authenticates no less.
  if (!ok && sig.presigned && declared == nullptr && req.body.empty()) {
    std::string unsigned_canonical =
        CanonicalRequest(req, sig.signed_headers, true, kUnsignedPayload);
    if (ConstantTimeEquals(SignatureFor(signing_key, sig.amz_date, scope, unsigned_canonical),
                           sig.signature)) {
      canonical = std::move(unsigned_canonical);
      ok = true;
    }
  }
  if (options.canonical_request_out != nullptr) *options.canonical_request_out = canonical;
  if (!ok) return Mismatch(kSignatureMismatchMessage);
  return absl::OkStatus();
}

absl::Status UnknownAccessKeyError() {
  return AuthFailure("AWS was not able to validate the provided access credentials");
}

}  // namespace kumo::auth
