// AWS Signature Version 4 as a server checks it: find the claimed signature in a request, then
// recompute it from the request and the caller's secret. The HTTP layer hands over a view of the
// request, so nothing here depends on the transport. A Signer does the client side for tests,
// benchmarks and the CLI.
//
// Errors are EC2-coded (common/errors.h): AuthFailure, IncompleteSignature, SignatureDoesNotMatch,
// RequestExpired, XAmzContentSHA256Mismatch, InvalidParameterCombination.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"

namespace kumo::auth {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kTerminator = "aws4_request";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::chrono::seconds kMaxClockSkew{15 * 60};
inline constexpr int64_t kMaxPresignExpiresSeconds = 7 * 24 * 3600;

// One request as received. Views must outlive the calls that take it.
struct HttpRequestView {
  std::string_view method;  // "GET", "POST"
  std::string_view path;    // raw (still percent-encoded) path without the query, e.g. "/"
  std::string_view query;   // raw query string without '?', may be empty
  // Names as received (matched case-insensitively), values as received; repeats allowed.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
  // The peer's address as the server saw it ("127.0.0.1", "::1"); empty where unknown (tests).
  std::string_view remote_address;
};

struct Credential {
  std::string access_key_id;
  std::string date;  // YYYYMMDD
  std::string region;
  std::string service;
  std::string terminator;  // "aws4_request" unless the client is confused
};

// What the request claims, before any check against a secret.
struct SignedRequest {
  Credential credential;
  std::vector<std::string> signed_headers;  // lower case, sorted
  std::string signature;                    // lower-case hex
  std::string amz_date;                     // "20150830T123600Z", from X-Amz-Date or Date
  TimePoint timestamp;                      // amz_date parsed
  bool presigned = false;                   // signature travelled in the query string
  int64_t expires_seconds = 0;              // X-Amz-Expires, presigned only
  std::string security_token;               // X-Amz-Security-Token, empty when absent
};

struct VerifyOptions {
  // The service the credential scope must name; empty accepts any.
  std::string_view service = "ec2";
  // The region the credential scope must name; empty accepts any.
  std::string_view region;
  // Header-signed requests may declare x-amz-content-sha256: UNSIGNED-PAYLOAD, leaving the body
  // unauthenticated. Off refuses such requests.
  bool allow_unsigned_payload = true;
  // When set, receives the canonical request the server computed, for debug logs on a mismatch.
  std::string* canonical_request_out = nullptr;
};

// Finds the signature in the Authorization header or the X-Amz-* query parameters. No signature
// at all is AuthFailure; a malformed one is IncompleteSignature; both forms at once is
// InvalidParameterCombination.
absl::StatusOr<SignedRequest> ParseSignature(const HttpRequestView& req);

// Checks scope, clock skew or presigned expiry, the body hash and finally the signature itself.
absl::Status VerifySignature(const HttpRequestView& req, const SignedRequest& sig,
                             std::string_view secret_access_key, TimePoint now,
                             const VerifyOptions& options = {});
// The same with a signing key from DeriveSigningKey, which a server may cache per
// (access key, date, region, service): the key derivation is four of the five HMACs.
absl::Status VerifySignatureWithKey(const HttpRequestView& req, const SignedRequest& sig,
                                    std::string_view signing_key, TimePoint now,
                                    const VerifyOptions& options = {});

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"), raw.
std::string DeriveSigningKey(std::string_view secret_access_key, std::string_view date,
                             std::string_view region, std::string_view service);

// The SigV4 canonical request. signed_headers must be lower case and sorted. When presigned, the
// query's X-Amz-Signature is left out.
std::string CanonicalRequest(const HttpRequestView& req,
                             std::span<const std::string> signed_headers, bool presigned,
                             std::string_view payload_hash);
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// EC2's answer when ParseSignature names an access key the server does not know.
absl::Status UnknownAccessKeyError();

// Client-side SigV4, for tests, benchmarks and Kumo's own tools (signer.cc). Its methods are
// const over immutable strings, so one Signer may serve many threads.
class Signer {
 public:
  Signer(std::string access_key_id, std::string secret_access_key, std::string region,
         std::string service, std::string session_token = "");

  // Signs req with every header it carries plus X-Amz-Date (and X-Amz-Security-Token), as
  // botocore does: Authorization, User-Agent, Expect, nameless headers and any X-Amz-Date of
  // req's own are left out. req must carry Host. Returns the headers to add (replacing any
  // X-Amz-Date the request had): X-Amz-Date, X-Amz-Security-Token when there is a session token,
  // and Authorization.
  std::vector<std::pair<std::string, std::string>> Sign(const HttpRequestView& req,
                                                        TimePoint now) const;

  // The complete header set for the usual EC2 call: a form-encoded POST to "/" on host.
  std::vector<std::pair<std::string, std::string>> SignPostForm(std::string_view host,
                                                                std::string_view body,
                                                                TimePoint now) const;

  // A presigned form of req: returns the query string (without '?') to send instead of
  // req.query, signing only Host and hashing req.body.
  std::string Presign(const HttpRequestView& req, TimePoint now, int64_t expires_seconds) const;

 private:
  std::string Scope(std::string_view date) const;
  std::string Signature(std::string_view date, std::string_view amz_date,
                        std::string_view canonical_request) const;

  std::string access_key_id_;
  std::string secret_access_key_;
  std::string region_;
  std::string service_;
  std::string session_token_;
};

}  // namespace kumo::auth
