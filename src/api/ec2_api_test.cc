// The endpoint end to end in-process: signed requests through Ec2Api over the in-memory store.
#include "api/ec2_api.h"

#include <gtest/gtest.h>

#include <set>

#include "auth/sigv4.h"
#include "common/errors.h"
#include "store/sqlite_store.h"

namespace kumo::api {
namespace {

using nlohmann::json;

class Ec2ApiTest : public ::testing::Test {
 protected:
  Ec2ApiTest()
      : clock_(std::chrono::system_clock::now()),
        box_(*crypto::SecretBox::FromKey(std::string(32, 'k'))),
        regions_({"eu-west-1", "us-east-1"}, "127.0.0.1:8787") {}

  void SetUp() override {
    store_ = std::move(*store::OpenSqliteStore(":memory:"));
    accounts_ = std::make_unique<services::Accounts>(*store_, box_, ids_, clock_);
    network_ = std::make_unique<services::DefaultNetwork>(*store_, regions_, ids_);
    catalog_ = std::move(
        *services::InstanceTypeCatalog::FromJson(services::InstanceTypeCatalog::EmbeddedJson()));
    api_ = std::make_unique<Ec2Api>(Deps{store_.get(), accounts_.get(), &regions_, &ids_, &clock_,
                                         &Ec2Model::Embedded(), network_.get(), catalog_.get(),
                                         &images_});
    auto alice = accounts_->Create("alice", "a@example.com", "");
    ASSERT_TRUE(alice.ok()) << alice.status();
    alice_ = *alice;
  }

  HttpResponse Call(const std::string& body, const services::Accounts::NewKey& who,
                    const std::string& region = "eu-west-1", const std::string& service = "ec2") {
    auth::Signer signer(who.access_key_id, who.secret_access_key, region, service);
    auto headers = signer.SignPostForm("127.0.0.1:8787", body, clock_.Now());
    headers_store_ = headers;
    auth::HttpRequestView req;
    req.method = "POST";
    req.path = "/";
    req.body = body;
    for (const auto& [k, v] : headers_store_) req.headers.emplace_back(k, v);
    return api_->Handle(req);
  }

  static std::string Code(const HttpResponse& r) {
    size_t a = r.body.find("<Code>");
    size_t b = r.body.find("</Code>");
    return a == std::string::npos ? "" : r.body.substr(a + 6, b - a - 6);
  }

  ManualClock clock_;
  RandomIdGenerator ids_;
  crypto::SecretBox box_;
  services::Regions regions_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<services::Accounts> accounts_;
  std::unique_ptr<services::DefaultNetwork> network_;
  std::unique_ptr<services::InstanceTypeCatalog> catalog_;
  services::ImageStore images_{"/nonexistent"};
  std::unique_ptr<Ec2Api> api_;
  services::Accounts::NewKey alice_;
  std::vector<std::pair<std::string, std::string>> headers_store_;
};

TEST_F(Ec2ApiTest, EveryModelOperationHasAHandlerAndViceVersa) {
  std::set<std::string> handlers, model;
  for (const auto& [name, spec] : api_->actions()) handlers.insert(name);
  for (const auto& name : Ec2Model::Embedded().Operations()) model.insert(name);
  EXPECT_EQ(handlers, model);
}

TEST_F(Ec2ApiTest, DescribeRegions) {
  auto r = Call("Action=DescribeRegions&Version=2016-11-15", alice_);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<regionName>us-east-1</regionName>"), std::string::npos);
  EXPECT_NE(r.body.find("<requestId>" + r.request_id + "</requestId>"), std::string::npos);
}

TEST_F(Ec2ApiTest, AuthenticationFailures) {
  auth::HttpRequestView unsigned_req;
  unsigned_req.method = "POST";
  unsigned_req.path = "/";
  unsigned_req.body = "Action=DescribeRegions";
  auto r = api_->Handle(unsigned_req);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Code(r), "AuthFailure");
  EXPECT_NE(r.body.find("<RequestID>"), std::string::npos);

  auto wrong = alice_;
  wrong.secret_access_key = "not-the-secret";
  EXPECT_EQ(Code(Call("Action=DescribeRegions", wrong)), "SignatureDoesNotMatch");
  auto unknown = alice_;
  unknown.access_key_id = "AKIANOTAREALKEY00000";
  EXPECT_EQ(Call("Action=DescribeRegions", unknown).status, 401);
  EXPECT_EQ(Code(Call("Action=DescribeRegions", alice_, "ap-south-1")), "SignatureDoesNotMatch");
  ASSERT_TRUE(accounts_->SetKeyStatus(alice_.access_key_id, false).ok());
  EXPECT_EQ(Call("Action=DescribeRegions", alice_).status, 401);
  ASSERT_TRUE(accounts_->SetKeyStatus(alice_.access_key_id, true).ok());
  EXPECT_EQ(Call("Action=DescribeRegions", alice_).status, 200);
}

TEST_F(Ec2ApiTest, ClockSkewIsRejected) {
  auth::Signer signer(alice_.access_key_id, alice_.secret_access_key, "eu-west-1", "ec2");
  std::string body = "Action=DescribeRegions";
  auto headers =
      signer.SignPostForm("127.0.0.1:8787", body, clock_.Now() - std::chrono::minutes(16));
  auth::HttpRequestView req{"POST", "/", "", {}, body};
  for (const auto& [k, v] : headers) req.headers.emplace_back(k, v);
  auto r = api_->Handle(req);
  EXPECT_EQ(Code(r), "RequestExpired");
}

TEST_F(Ec2ApiTest, ProtocolErrors) {
  EXPECT_EQ(Code(Call("Action=NoSuchThing", alice_)), "InvalidAction");
  EXPECT_EQ(Code(Call("Version=2016-11-15", alice_)), "MissingAction");
  EXPECT_EQ(Code(Call("Action=DescribeKeyPairs&Bogus=1", alice_)), "UnknownParameter");
  EXPECT_EQ(Code(Call("Action=CreateKeyPair", alice_)), "MissingParameter");
  EXPECT_EQ(Code(Call("Action=DescribeKeyPairs&KeyName.1=a&KeyName.1=b", alice_)),
            "InvalidParameterValue");
}

TEST_F(Ec2ApiTest, DryRunChangesNothing) {
  auto r = Call("Action=CreateKeyPair&KeyName=k&KeyType=ed25519&DryRun=true", alice_);
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(Code(r), "DryRunOperation");
  auto d = Call("Action=DescribeKeyPairs", alice_);
  EXPECT_EQ(d.body.find("<item>"), std::string::npos) << d.body;
  EXPECT_EQ(Call("Action=DescribeKeyPairs&DryRun=true", alice_).status, 412);

  ASSERT_TRUE(accounts_->SetStatus("alice", "suspended").ok());
  auto denied = Call("Action=CreateKeyPair&KeyName=k&KeyType=ed25519&DryRun=true", alice_);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(Code(denied), "UnauthorizedOperation");
  EXPECT_EQ(Code(Call("Action=CreateKeyPair&KeyName=k&KeyType=ed25519", alice_)),
            "UnauthorizedOperation");
}

TEST_F(Ec2ApiTest, TenantsAreIsolatedThroughTheApi) {
  auto bob = *accounts_->Create("bob", "", "");
  auto created = Call("Action=CreateKeyPair&KeyName=shared&KeyType=ed25519", alice_);
  ASSERT_EQ(created.status, 200) << created.body;
  size_t a = created.body.find("<keyPairId>") + 11;
  std::string id = created.body.substr(a, created.body.find("</keyPairId>") - a);
  EXPECT_EQ(Code(Call("Action=DescribeKeyPairs&KeyPairId.1=" + id, bob)),
            "InvalidKeyPair.NotFound");
  EXPECT_EQ(Code(Call("Action=CreateTags&ResourceId.1=" + id + "&Tag.1.Key=a&Tag.1.Value=b", bob)),
            "InvalidKeyPair.NotFound");
  EXPECT_EQ(Call("Action=CreateKeyPair&KeyName=shared&KeyType=ed25519", bob).status, 200);
  // Regions are separate namespaces too.
  EXPECT_EQ(Call("Action=DescribeKeyPairs&KeyName.1=shared", alice_, "us-east-1").status, 400);
}

TEST_F(Ec2ApiTest, StsGetCallerIdentity) {
  auto r = Call("Action=GetCallerIdentity&Version=2011-06-15", alice_, "eu-west-1", "sts");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<Account>" + alice_.account.id + "</Account>"), std::string::npos);
}

TEST_F(Ec2ApiTest, ClientTokenReplaysAndDetectsMismatch) {
  Deps deps{store_.get(),          accounts_.get(), &regions_,      &ids_,   &clock_,
            &Ec2Model::Embedded(), network_.get(),  catalog_.get(), &images_};
  services::Caller caller{alice_.account.id, "eu-west-1", "req-1", clock_.Now()};
  int calls = 0;
  auto fn = [&](store::Tx&) -> absl::StatusOr<json> {
    ++calls;
    return json{{"KeyName", "k"}, {"KeyPairId", "key-1"}};
  };
  ActionContext first(deps, caller, "CreateKeyPair", "tok", "hash-a");
  ASSERT_TRUE(first.Write(fn).ok());
  ActionContext retry(deps, caller, "CreateKeyPair", "tok", "hash-a");
  auto again = retry.Write(fn);
  EXPECT_TRUE(IsReplayed(again.status()));
  ASSERT_TRUE(retry.replayed().has_value());
  EXPECT_NE(retry.replayed()->find("<keyPairId>key-1</keyPairId>"), std::string::npos);
  EXPECT_EQ(calls, 1);
  ActionContext other(deps, caller, "CreateKeyPair", "tok", "hash-b");
  EXPECT_EQ(Ec2CodeOf(other.Write(fn).status()), "IdempotentParameterMismatch");
  EXPECT_EQ(calls, 1);
  // Another account's identical token is its own.
  services::Caller bob{"999999999999", "eu-west-1", "req-2", clock_.Now()};
  ActionContext theirs(deps, bob, "CreateKeyPair", "tok", "hash-b");
  EXPECT_TRUE(theirs.Write(fn).ok());
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace kumo::api
