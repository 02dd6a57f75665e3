// Key pair and tag rules against the in-memory store.
#include "services/keypairs.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "services/tags.h"
#include "store/sqlite_store.h"

namespace kumo::services {
namespace {

using nlohmann::json;

absl::Status TagStatus(store::Tx& tx, const Caller& c, const json& in) {
  return CreateTags(tx, c, in).status();
}

class KeyPairsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::OpenSqliteStore(":memory:"));
    alice_ =
        Caller{"111111111111", "eu-west-1", "req", TimePoint(std::chrono::seconds(1700000000))};
    bob_ = Caller{"222222222222", "eu-west-1", "req", alice_.now};
  }
  absl::StatusOr<json> Create(const Caller& c, const json& input) {
    auto prepared = PrepareCreateKeyPair(input);
    if (!prepared.ok()) return prepared.status();
    json out;
    absl::Status st = store_->Write([&](store::Tx& tx) -> absl::Status {
      auto r = StoreKeyPair(tx, c, ids_, *prepared, input, false);
      if (!r.ok()) return r.status();
      out = *r;
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }
  absl::StatusOr<json> Describe(const Caller& c, const json& input) {
    json out;
    absl::Status st = store_->Read([&](store::Tx& tx) -> absl::Status {
      auto r = DescribeKeyPairs(tx, c, input);
      if (!r.ok()) return r.status();
      out = *r;
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  std::unique_ptr<store::Store> store_;
  SequentialIdGenerator ids_;
  Caller alice_, bob_;
};

TEST_F(KeyPairsTest, CreateDescribeDelete) {
  auto created = Create(alice_, {{"KeyName", "k1"}, {"KeyType", "ed25519"}});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_NE((*created)["KeyMaterial"].get<std::string>().find("OPENSSH PRIVATE KEY"),
            std::string::npos);
  auto dup = Create(alice_, {{"KeyName", "k1"}});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);

  auto d = Describe(alice_, {{"KeyNames", {"k1"}}, {"IncludePublicKey", true}});
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ((*d)["KeyPairs"].size(), 1u);
  EXPECT_EQ((*d)["KeyPairs"][0]["KeyType"], "ed25519");
  EXPECT_EQ((*d)["KeyPairs"][0]["PublicKey"].get<std::string>().rfind("ssh-ed25519 ", 0), 0u);
  EXPECT_EQ((*d)["KeyPairs"][0]["CreateTime"], "2023-11-14T22:13:20.000Z");

  EXPECT_FALSE(Describe(alice_, {{"KeyNames", {"nope"}}}).ok());
  ASSERT_TRUE(store_
                  ->Write([&](store::Tx& tx) {
                    return DeleteKeyPair(tx, alice_, {{"KeyName", "k1"}}).status();
                  })
                  .ok());
  EXPECT_EQ((*Describe(alice_, json::object()))["KeyPairs"].size(), 0u);
  // Deleting again, by name, is not an error.
  EXPECT_TRUE(store_
                  ->Write([&](store::Tx& tx) {
                    return DeleteKeyPair(tx, alice_, {{"KeyName", "k1"}}).status();
                  })
                  .ok());
}

TEST_F(KeyPairsTest, TenantsNeverSeeEachOther) {
  auto created = Create(alice_, {{"KeyName", "shared-name"}, {"KeyType", "ed25519"}});
  ASSERT_TRUE(created.ok());
  std::string id = (*created)["KeyPairId"];
  EXPECT_EQ((*Describe(bob_, json::object()))["KeyPairs"].size(), 0u);
  auto by_id = Describe(bob_, {{"KeyPairIds", {id}}});
  EXPECT_EQ(by_id.status().code(), absl::StatusCode::kNotFound);
  // Bob may use the same name.
  EXPECT_TRUE(Create(bob_, {{"KeyName", "shared-name"}, {"KeyType", "ed25519"}}).ok());
  // Bob cannot tag or delete Alice's key by id.
  EXPECT_EQ(store_
                ->Write([&](store::Tx& tx) {
                  return TagStatus(
                      tx, bob_, {{"Resources", {id}}, {"Tags", {{{"Key", "a"}, {"Value", "b"}}}}});
                })
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_
                ->Write([&](store::Tx& tx) {
                  return DeleteKeyPair(tx, bob_, {{"KeyPairId", id}}).status();
                })
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KeyPairsTest, TagSpecificationsAndFilters) {
  json spec = json::parse(R"([{"ResourceType":"key-pair","Tags":[{"Key":"env","Value":"prod"}]}])");
  ASSERT_TRUE(
      Create(alice_, {{"KeyName", "a"}, {"KeyType", "ed25519"}, {"TagSpecifications", spec}}).ok());
  ASSERT_TRUE(Create(alice_, {{"KeyName", "b"}, {"KeyType", "ed25519"}}).ok());
  auto d =
      Describe(alice_, {{"Filters", json::parse(R"([{"Name":"tag:env","Values":["prod"]}])")}});
  ASSERT_TRUE(d.ok());
  ASSERT_EQ((*d)["KeyPairs"].size(), 1u);
  EXPECT_EQ((*d)["KeyPairs"][0]["KeyName"], "a");
  EXPECT_EQ((*d)["KeyPairs"][0]["Tags"][0]["Value"], "prod");
  json wrong = json::parse(R"([{"ResourceType":"instance","Tags":[{"Key":"x","Value":"y"}]}])");
  EXPECT_FALSE(Create(alice_, {{"KeyName", "c"}, {"TagSpecifications", wrong}}).ok());
  // Nothing half-created.
  EXPECT_EQ((*Describe(alice_, json::object()))["KeyPairs"].size(), 2u);
}

TEST_F(KeyPairsTest, TagLimits) {
  ASSERT_TRUE(Create(alice_, {{"KeyName", "a"}, {"KeyType", "ed25519"}}).ok());
  std::string id = (*Describe(alice_, json::object()))["KeyPairs"][0]["KeyPairId"];
  json tags = json::array();
  for (int i = 0; i < 51; ++i) tags.push_back({{"Key", "k" + std::to_string(i)}, {"Value", "v"}});
  absl::Status st = store_->Write([&](store::Tx& tx) {
    return TagStatus(tx, alice_, {{"Resources", {id}}, {"Tags", tags}});
  });
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(store_
                   ->Write([&](store::Tx& tx) {
                     return TagStatus(
                         tx, alice_,
                         {{"Resources", {id}}, {"Tags", {{{"Key", "aws:x"}, {"Value", "v"}}}}});
                   })
                   .ok());
  EXPECT_FALSE(store_
                   ->Write([&](store::Tx& tx) {
                     return TagStatus(
                         tx, alice_,
                         {{"Resources", {"bogus"}}, {"Tags", {{{"Key", "x"}, {"Value", "v"}}}}});
                   })
                   .ok());
}

TEST_F(KeyPairsTest, ImportRejectsGarbageAsInvalidKeyFormat) {
  auto r =
      PrepareImportKeyPair({{"KeyName", "x"}, {"PublicKeyMaterial", Base64Encode("not a key")}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kumo::services
