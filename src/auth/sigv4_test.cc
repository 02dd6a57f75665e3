#include "auth/sigv4.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "auth/sigv4_test_util.h"
#include "common/encoding.h"
#include "common/errors.h"
#include "common/hash.h"

namespace kumo::auth {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::At;
using testing::kAccessKey;
using testing::kSecret;
using testing::OwnedRequest;
using testing::ParseAndVerify;

constexpr char kNow[] = "20240229T235930Z";
constexpr char kBody[] = "Action=DescribeRegions&Version=2016-11-15";

Signer Ec2Signer(std::string token = "") {
  return Signer(kAccessKey, kSecret, "us-east-1", "ec2", std::move(token));
}

// A DescribeRegions POST signed the way the aws CLI signs it.
OwnedRequest SignedPost(TimePoint t = At(kNow), std::string body = kBody) {
  OwnedRequest r;
  r.method = "POST";
  r.body = std::move(body);
  for (auto& h : Ec2Signer().SignPostForm("127.0.0.1:8773", r.body, t)) r.headers.push_back(h);
  r.headers.emplace_back("User-Agent", "aws-cli/2.9.19");
  r.headers.emplace_back("Content-Length", std::to_string(r.body.size()));
  return r;
}

OwnedRequest PresignedGet(TimePoint t, int64_t expires) {
  OwnedRequest r;
  r.query = "Action=DescribeRegions&Version=2016-11-15";
  r.headers.emplace_back("Host", "127.0.0.1:8773");
  r.query = Ec2Signer().Presign(r.View(), t, expires);
  return r;
}

std::string CodeOf(const OwnedRequest& r, TimePoint now = At(kNow)) {
  return Ec2CodeOf(ParseAndVerify(r, kSecret, now));
}

std::string ParseCode(const OwnedRequest& r) {
  auto sig = ParseSignature(r.View());
  return sig.ok() ? "" : Ec2CodeOf(sig.status());
}

OwnedRequest WithAuthorization(std::string value) {
  OwnedRequest r = SignedPost();
  *r.Header("authorization") = std::move(value);
  return r;
}

TEST(SignerTest, SignedPostVerifies) {
  OwnedRequest r = SignedPost();
  auto sig = ParseSignature(r.View());
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->credential.access_key_id, kAccessKey);
  EXPECT_EQ(sig->credential.date, "20240229");
  EXPECT_EQ(sig->credential.region, "us-east-1");
  EXPECT_EQ(sig->credential.service, "ec2");
  EXPECT_EQ(sig->signed_headers, (std::vector<std::string>{"content-type", "host", "x-amz-date"}));
  EXPECT_EQ(sig->amz_date, kNow);
  EXPECT_FALSE(sig->presigned);
  EXPECT_TRUE(VerifySignature(r.View(), *sig, kSecret, At(kNow)).ok());
  std::string key = DeriveSigningKey(kSecret, "20240229", "us-east-1", "ec2");
  EXPECT_TRUE(VerifySignatureWithKey(r.View(), *sig, key, At(kNow)).ok());
}

TEST(SignerTest, SessionTokenIsSignedAndReported) {
  OwnedRequest r;
  r.method = "POST";
  r.body = kBody;
  r.headers = {{"Host", "localhost"}, {"Content-Type", "application/x-www-form-urlencoded"}};
  for (auto& h : Ec2Signer("tok/en+=").Sign(r.View(), At(kNow))) r.headers.push_back(h);
  auto sig = ParseSignature(r.View());
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->security_token, "tok/en+=");
  EXPECT_TRUE(VerifySignature(r.View(), *sig, kSecret, At(kNow)).ok());
  *r.Header("x-amz-security-token") = "other";
  EXPECT_EQ(CodeOf(r), "SignatureDoesNotMatch");
}

TEST(SignerTest, HeadersItCannotSignAreLeftUnsigned) {
  // Found by the fuzzer: an empty header name once shifted the SignedHeaders list.
  OwnedRequest r;
  r.headers = {{"Host", "h"}, {"", "nameless"}, {"X-Amz-Date", "stale"}, {"User-Agent", "u"}};
  auto added = Ec2Signer().Sign(r.View(), At(kNow));
  EXPECT_NE(added.back().second.find("SignedHeaders=host;x-amz-date,"), std::string::npos)
      << added.back().second;
  std::erase_if(r.headers, [](const auto& h) { return h.first == "X-Amz-Date"; });
  for (auto& h : added) r.headers.push_back(h);
  EXPECT_EQ(CodeOf(r), "");
}

TEST(SignerTest, PresignedUrlVerifies) {
  OwnedRequest r = PresignedGet(At(kNow), 300);
  auto sig = ParseSignature(r.View());
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(sig->presigned);
  EXPECT_EQ(sig->expires_seconds, 300);
  EXPECT_EQ(sig->signed_headers, std::vector<std::string>{"host"});
  EXPECT_TRUE(VerifySignature(r.View(), *sig, kSecret, At(kNow) + seconds(300)).ok());
  EXPECT_EQ(CodeOf(r, At(kNow) + seconds(301)), "RequestExpired");
  EXPECT_EQ(CodeOf(r, At(kNow) - minutes(16)), "RequestExpired");
  EXPECT_EQ(CodeOf(r, At(kNow) - minutes(14)), "");
}

TEST(SignerTest, PresignedWithUnsignedPayloadIsAccepted) {
  // What S3-style signers produce: the canonical request ends in UNSIGNED-PAYLOAD.
  OwnedRequest r;
  r.headers.emplace_back("Host", "h");
  r.query =
      "Action=DescribeRegions&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"
      "20240229%2Fus-east-1%2Fec2%2Faws4_request&X-Amz-Date=20240229T235930Z&X-Amz-Expires=60&"
      "X-Amz-SignedHeaders=host";
  std::string canonical =
      CanonicalRequest(r.View(), std::vector<std::string>{"host"}, true, kUnsignedPayload);
  std::string sts = StringToSign(kNow, "20240229/us-east-1/ec2/aws4_request", canonical);
  std::string key = DeriveSigningKey(kSecret, "20240229", "us-east-1", "ec2");
  r.query += "&X-Amz-Signature=" + HexEncode(HmacSha256(key, sts));
  EXPECT_EQ(CodeOf(r), "");
  r.body = "x";  // a body the signature does not cover is not accepted
  EXPECT_EQ(CodeOf(r), "SignatureDoesNotMatch");
}

TEST(VerifyTest, ClockSkewBothWays) {
  OwnedRequest r = SignedPost();
  EXPECT_EQ(CodeOf(r, At(kNow) + minutes(14)), "");
  EXPECT_EQ(CodeOf(r, At(kNow) - minutes(14)), "");
  EXPECT_EQ(CodeOf(r, At(kNow) + minutes(15)), "");
  EXPECT_EQ(CodeOf(r, At(kNow) + minutes(16)), "RequestExpired");
  EXPECT_EQ(CodeOf(r, At(kNow) - minutes(16)), "RequestExpired");
  absl::Status s = ParseAndVerify(r, kSecret, At(kNow) + minutes(16));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StartsWith(s.message(), "Request has expired.")) << s.message();
}

TEST(VerifyTest, SignatureMismatchMessageIsAws) {
  absl::Status s = ParseAndVerify(SignedPost(), "not the secret", At(kNow));
  EXPECT_EQ(Ec2CodeOf(s), "SignatureDoesNotMatch");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message(),
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.");
}

TEST(VerifyTest, TamperedRequestFails) {
  OwnedRequest r = SignedPost();
  r.body = "Action=DescribeRegions&Version=2016-11-16";
  EXPECT_EQ(CodeOf(r), "SignatureDoesNotMatch");
  r = SignedPost();
  *r.Header("content-type") = "text/plain";
  EXPECT_EQ(CodeOf(r), "SignatureDoesNotMatch");
  r = SignedPost();
  r.path = "/x";
  EXPECT_EQ(CodeOf(r), "SignatureDoesNotMatch");
  r = SignedPost();
  r.query = "Action=TerminateInstances";
  EXPECT_EQ(CodeOf(r), "SignatureDoesNotMatch");
  // Unsigned headers may change freely.
  r = SignedPost();
  *r.Header("user-agent") = "curl/8";
  EXPECT_EQ(CodeOf(r), "");
}

TEST(VerifyTest, ScopeChecks) {
  // Signed consistently with the wrong service: the HMAC chain agrees, the scope check does not.
  OwnedRequest r;
  r.method = "POST";
  r.body = kBody;
  Signer iam(kAccessKey, kSecret, "us-east-1", "iam");
  for (auto& h : iam.SignPostForm("localhost", r.body, At(kNow))) r.headers.push_back(h);
  absl::Status s = ParseAndVerify(r, kSecret, At(kNow));
  EXPECT_EQ(Ec2CodeOf(s), "SignatureDoesNotMatch");
  EXPECT_EQ(s.message(), "Credential should be scoped to correct service: 'ec2'.");
  VerifyOptions any;
  any.service = "";
  EXPECT_TRUE(ParseAndVerify(r, kSecret, At(kNow), any).ok());

  VerifyOptions region;
  region.region = "eu-west-1";
  EXPECT_EQ(Ec2CodeOf(ParseAndVerify(SignedPost(), kSecret, At(kNow), region)),
            "SignatureDoesNotMatch");

  // Scope date one day off from X-Amz-Date.
  r = SignedPost();
  std::string* auth = r.Header("authorization");
  auth->replace(auth->find("/20240229/"), 10, "/20240228/");
  s = ParseAndVerify(r, kSecret, At(kNow));
  EXPECT_EQ(Ec2CodeOf(s), "SignatureDoesNotMatch");
  EXPECT_NE(s.message().find("Date in Credential scope does not match"), std::string::npos);

  r = SignedPost();
  auth = r.Header("authorization");
  auth->replace(auth->find("aws4_request"), 12, "aws5_request");
  EXPECT_EQ(CodeOf(r), "SignatureDoesNotMatch");
}

TEST(VerifyTest, HostMustBeSigned) {
  OwnedRequest r;
  r.method = "POST";
  r.body = kBody;
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  for (auto& h : Ec2Signer().Sign(r.View(), At(kNow))) r.headers.push_back(h);
  r.headers.emplace_back("Host", "localhost");
  absl::Status s = ParseAndVerify(r, kSecret, At(kNow));
  EXPECT_EQ(Ec2CodeOf(s), "IncompleteSignature");
  EXPECT_NE(s.message().find("'Host'"), std::string::npos);
}

TEST(VerifyTest, ContentSha256Header) {
  OwnedRequest r;
  r.method = "POST";
  r.body = kBody;
  r.headers = {{"Host", "localhost"}, {"X-Amz-Content-SHA256", HexEncode(Sha256(kBody))}};
  for (auto& h : Ec2Signer().Sign(r.View(), At(kNow))) r.headers.push_back(h);
  EXPECT_EQ(CodeOf(r), "");
  r.body += "&DryRun=true";
  EXPECT_EQ(CodeOf(r), "XAmzContentSHA256Mismatch");

  r.headers = {{"Host", "localhost"}, {"X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"}};
  for (auto& h : Ec2Signer().Sign(r.View(), At(kNow))) r.headers.push_back(h);
  EXPECT_EQ(CodeOf(r), "");
  VerifyOptions strict;
  strict.allow_unsigned_payload = false;
  EXPECT_EQ(Ec2CodeOf(ParseAndVerify(r, kSecret, At(kNow), strict)), "IncompleteSignature");
}

TEST(VerifyTest, DateHeaderFallback) {
  // botocore signs with the Date header when a request already has one: the header carries the
  // RFC 7231 form, the string to sign the ISO-8601 basic form.
  OwnedRequest r;
  r.method = "POST";
  r.body = kBody;
  r.headers = {{"Host", "localhost"}, {"Date", "Thu, 29 Feb 2024 23:59:30 GMT"}};
  std::vector<std::string> names = {"date", "host"};
  std::string canonical = CanonicalRequest(r.View(), names, false, HexEncode(Sha256(kBody)));
  std::string key = DeriveSigningKey(kSecret, "20240229", "us-east-1", "ec2");
  std::string sig = HexEncode(
      HmacSha256(key, StringToSign(kNow, "20240229/us-east-1/ec2/aws4_request", canonical)));
  r.headers.emplace_back("Authorization",
                         "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/ec2/"
                         "aws4_request,SignedHeaders=date;host,Signature=" +
                             sig);
  auto parsed = ParseSignature(r.View());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->amz_date, kNow);
  EXPECT_EQ(CodeOf(r), "");
  *r.Header("date") = "Thu, 29 Feb 2024 23:59:30 PST";
  EXPECT_EQ(ParseCode(r), "IncompleteSignature");
}

TEST(ParseTest, NoAuthentication) {
  OwnedRequest r = SignedPost();
  std::erase_if(r.headers, [](const auto& h) { return h.first == "Authorization"; });
  absl::Status s = ParseSignature(r.View()).status();
  EXPECT_EQ(Ec2CodeOf(s), "AuthFailure");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  r.query = "Action=DescribeRegions&AWSAccessKeyId=AKID&SignatureVersion=2&Signature=abc";
  EXPECT_EQ(ParseCode(r), "AuthFailure");
}

TEST(ParseTest, BothForms) {
  OwnedRequest r = PresignedGet(At(kNow), 60);
  r.headers.emplace_back("Authorization", *SignedPost().Header("authorization"));
  EXPECT_EQ(ParseCode(r), "InvalidParameterCombination");
}

TEST(ParseTest, MalformedAuthorizationHeaders) {
  const std::string good = *SignedPost().Header("authorization");
  const std::string sig = good.substr(good.find("Signature=") + 10);
  struct Case {
    std::string value;
    std::string code;
  };
  std::vector<Case> cases = {
      {"", "IncompleteSignature"},
      {"AWS4-HMAC-SHA256", "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 ", "IncompleteSignature"},
      {"Basic dXNlcjpwYXNz", "IncompleteSignature"},
      {"AWS AKIDEXAMPLE:qaNdqGsI6bq4Hi+9Gzovwyjbh0E=", "IncompleteSignature"},
      {"AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20240229/ec2/aws4_request, "
       "SignedHeaders=host, Signature=ab",
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 SignedHeaders=content-type;host;x-amz-date, Signature=" + sig,
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/ec2/aws4_request, "
       "Signature=" +
           sig,
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/ec2/aws4_request, "
       "SignedHeaders=content-type;host;x-amz-date, Signature=",
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/ec2, "
       "SignedHeaders=host, Signature=" +
           sig,
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/ec2/aws4_request/x, "
       "SignedHeaders=host, Signature=" +
           sig,
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 Credential=/20240229/us-east-1/ec2/aws4_request, "
       "SignedHeaders=host, Signature=" +
           sig,
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/ec2/aws4_request, "
       "SignedHeaders=host;;x-amz-date, Signature=" +
           sig,
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /20240229/us-east-1/ec2/aws4_request, "
       "SignedHeaders, Signature=" +
           sig,
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/ec2/aws4_request, "
       "Credential=AKIDEXAMPLE/20240229/us-east-1/ec2/aws4_request, SignedHeaders=host, "
       "Signature=" +
           sig,
       "IncompleteSignature"},
      {"AWS4-HMAC-SHA256 ,,, =, ==", "IncompleteSignature"},
      // Well-formed but wrong: parses, then fails verification.
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/ec2/aws4_request, "
       "SignedHeaders=content-type;host;x-amz-date, Signature=00",
       "SignatureDoesNotMatch"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    OwnedRequest r = WithAuthorization(c.value);
    absl::Status s = ParseAndVerify(r, kSecret, At(kNow));
    EXPECT_EQ(Ec2CodeOf(s), c.code) << s;
  }
  // Commas without spaces, as some SDKs send, are fine.
  std::string compact = good;
  for (size_t p; (p = compact.find(", ")) != std::string::npos;) compact.erase(p + 1, 1);
  EXPECT_EQ(CodeOf(WithAuthorization(compact)), "");
}

TEST(ParseTest, AwsStyleMessages) {
  absl::Status s = ParseSignature(WithAuthorization("Basic abc").View()).status();
  EXPECT_EQ(s.message(),
            "Authorization header requires 'Credential' parameter. Authorization header requires "
            "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
            "Authorization=Basic abc");
  s = ParseSignature(WithAuthorization("AWS4-HMAC-SHA256 Credential").View()).status();
  EXPECT_EQ(s.message(),
            "'Credential' not a valid key=value pair (missing equal-sign) in Authorization "
            "header: 'AWS4-HMAC-SHA256 Credential'.");
  // Control bytes never reach the error document.
  s = ParseSignature(WithAuthorization("Basic \x01\xff").View()).status();
  EXPECT_EQ(s.message().find('\x01'), std::string::npos);
}

TEST(ParseTest, MissingOrBadDate) {
  OwnedRequest r = SignedPost();
  std::erase_if(r.headers, [](const auto& h) { return h.first == "X-Amz-Date"; });
  absl::Status s = ParseSignature(r.View()).status();
  EXPECT_EQ(Ec2CodeOf(s), "IncompleteSignature");
  EXPECT_NE(s.message().find("'X-Amz-Date' or a 'Date' header"), std::string::npos);
  for (const char* bad :
       {"", "2024-02-29T23:59:30Z", "20240229T235930", "20241329T235930Z", "2024022XT235930Z",
        "20240229T235930Z\x01", "00000101T000000Z", "99991231T235959Z", "02150830T123600Z"}) {
    r = SignedPost();
    *r.Header("x-amz-date") = bad;
    EXPECT_EQ(ParseCode(r), "IncompleteSignature") << bad;
  }
}

TEST(ParseTest, MultipleAuthorizationHeaders) {
  OwnedRequest r = SignedPost();
  r.headers.emplace_back("authorization", *r.Header("Authorization"));
  EXPECT_EQ(ParseCode(r), "IncompleteSignature");
}

TEST(ParseTest, MalformedPresignedQueries) {
  const std::string good = PresignedGet(At(kNow), 60).query;
  auto with = [&](std::string from, std::string to) {
    OwnedRequest r = PresignedGet(At(kNow), 60);
    size_t p = r.query.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    if (p != std::string::npos) r.query.replace(p, from.size(), to);
    return r;
  };
  EXPECT_EQ(CodeOf(with("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1")),
            "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("X-Amz-Algorithm=AWS4-HMAC-SHA256&", "")), "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("X-Amz-Expires=60", "X-Amz-Expires=0")), "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("X-Amz-Expires=60", "X-Amz-Expires=604801")), "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("X-Amz-Expires=60", "X-Amz-Expires=-5")), "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("X-Amz-Expires=60", "X-Amz-Expires=99999999999999999999")),
            "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("X-Amz-Expires=60", "X-Amz-Expires=60&X-Amz-Expires=60")),
            "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=")),
            "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("%2Fec2%2F", "%2F")), "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("X-Amz-Date=20240229T235930Z", "X-Amz-Date=yesterday")),
            "IncompleteSignature");
  EXPECT_EQ(CodeOf(with("X-Amz-Signature=", "X-Amz-Signature=0")), "SignatureDoesNotMatch");
  // Adding an operation parameter after signing breaks the signature.
  EXPECT_EQ(CodeOf(with("Action=DescribeRegions", "Action=DescribeRegions&DryRun=true")),
            "SignatureDoesNotMatch");
  EXPECT_EQ(CodeOf(with("", "")), "");
}

TEST(CanonicalTest, QueryEncoding) {
  OwnedRequest r;
  // '+' is a space on the wire (botocore's URLs), %2B a plus; a lone '%' stays literal.
  r.query = "b=a+b%2Bc&a=%7e~&a=%2f&c&=x&&d=%zz&e=%C3%BC";
  std::string canonical = CanonicalRequest(r.View(), {}, false, "h");
  EXPECT_EQ(canonical, "GET\n/\n=x&a=%2F&a=~~&b=a%20b%2Bc&c=&d=%25zz&e=%C3%BC\n\n\nh");
}

TEST(CanonicalTest, PathNormalization) {
  auto path_of = [](std::string path) {
    OwnedRequest r;
    r.path = std::move(path);
    std::string c = CanonicalRequest(r.View(), {}, false, "");
    return c.substr(4, c.find('\n', 4) - 4);
  };
  EXPECT_EQ(path_of(""), "/");
  EXPECT_EQ(path_of("/"), "/");
  EXPECT_EQ(path_of("//"), "/");
  EXPECT_EQ(path_of("/a/b/../c/./d/"), "/a/c/d/");
  EXPECT_EQ(path_of("/../../x"), "/x");
  EXPECT_EQ(path_of("/a%20b/c d"), "/a%2520b/c%20d");  // raw '%' is encoded again
  EXPECT_EQ(path_of("/~user/*"), "/~user/%2A");
}

TEST(CanonicalTest, HeaderValues) {
  OwnedRequest r;
  r.headers = {{"X-A", "  a \t b  "}, {"x-a", "c"}, {"X-B", ""}, {"Host", "h"}};
  std::vector<std::string> names = {"host", "x-a", "x-b", "x-missing"};
  EXPECT_EQ(CanonicalRequest(r.View(), names, false, "p"),
            "GET\n/\n\nhost:h\nx-a:a b,c\nx-b:\nx-missing:\n\nhost;x-a;x-b;x-missing\np");
}

TEST(UnknownAccessKeyTest, IsAuthFailure) {
  absl::Status s = UnknownAccessKeyError();
  EXPECT_EQ(Ec2CodeOf(s), "AuthFailure");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace kumo::auth
