// One contract, every Store implementation: each test runs against the in-memory fake and a
// SQLite file (PostgreSQL joins the list when it lands).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "store/sqlite_store.h"

namespace kumo::store {
namespace {

class StoreContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "file") {
      char tmpl[] = "/tmp/kumo-store-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      path_ = dir_ + "/kumo.db";
    } else {
      path_ = ":memory:";
    }
    auto s = OpenSqliteStore(path_, {.synchronous_full = false});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) {
      std::string cmd = "rm -rf " + dir_;
      ASSERT_EQ(std::system(cmd.c_str()), 0);
    }
  }
  absl::Status AddKeyPair(const std::string& account, const std::string& id,
                          const std::string& name) {
    return store_->Write([&](Tx& tx) {
      Resource r{id, account, "eu-west-1", "key-pair", name, {{"fingerprint", "ab"}}, 0, 1};
      return tx.InsertResource(r);
    });
  }

  std::string dir_, path_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreContractTest, AccountsAndKeys) {
  ASSERT_TRUE(
      store_
          ->Write([](Tx& tx) {
            if (auto st = tx.InsertAccount({"111122223333", "alice", "a@x", "active", 5}); !st.ok())
              return st;
            return tx.InsertAccessKey({"AKIA1", "111122223333", "v1:sealed", "Active", 6});
          })
          .ok());
  // The name is unique.
  absl::Status dup = store_->Write([](Tx& tx) {
    return tx.InsertAccount({"999988887777", "alice", "", "active", 1});
  });
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_
                  ->Read([](Tx& tx) {
                    auto a = tx.GetAccountByName("alice");
                    EXPECT_TRUE(a.ok());
                    EXPECT_EQ(a->id, "111122223333");
                    auto k = tx.GetAccessKey("AKIA1");
                    EXPECT_TRUE(k.ok());
                    EXPECT_EQ(k->sealed_secret, "v1:sealed");
                    EXPECT_EQ(tx.GetAccessKey("AKIA2").status().code(),
                              absl::StatusCode::kNotFound);
                    EXPECT_EQ(tx.ListAccessKeys("111122223333")->size(), 1u);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_P(StoreContractTest, ResourcesAreScopedToAccountAndRegion) {
  ASSERT_TRUE(AddKeyPair("111111111111", "key-1", "k").ok());
  ASSERT_TRUE(AddKeyPair("222222222222", "key-2", "k").ok());  // same name, other tenant
  EXPECT_EQ(AddKeyPair("111111111111", "key-3", "k").code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(
      store_
          ->Read([](Tx& tx) {
            EXPECT_TRUE(tx.GetResource("111111111111", "eu-west-1", "key-1").ok());
            EXPECT_EQ(tx.GetResource("222222222222", "eu-west-1", "key-1").status().code(),
                      absl::StatusCode::kNotFound);
            EXPECT_EQ(tx.GetResource("111111111111", "us-east-1", "key-1").status().code(),
                      absl::StatusCode::kNotFound);
            auto found = tx.FindResourceByName("222222222222", "eu-west-1", "key-pair", "k");
            EXPECT_TRUE(found.ok() && found->has_value());
            EXPECT_EQ((*found)->id, "key-2");
            EXPECT_EQ(tx.ListResources("111111111111", "eu-west-1", "key-pair")->size(), 1u);
            auto all = tx.ListAllResources("key-pair");
            EXPECT_TRUE(all.ok() && all->size() == 2u);
            EXPECT_TRUE(tx.ListAllResources("instance")->empty());
            auto versions = tx.ListResourceVersions("key-pair");
            EXPECT_TRUE(versions.ok() && versions->size() == 2u);
            if (versions.ok() && versions->size() == 2u) {
              EXPECT_EQ((*versions)[0].id, "key-1");
              EXPECT_EQ((*versions)[1].account_id, "222222222222");
              EXPECT_EQ((*versions)[0].version, (*all)[0].version);
            }
            return absl::OkStatus();
          })
          .ok());
}

TEST_P(StoreContractTest, FailedWriteRollsBackEverything) {
  absl::Status st = store_->Write([](Tx& tx) {
    Resource r{"key-9", "111111111111", "eu-west-1", "key-pair", "x", {}, 0, 1};
    if (auto s = tx.InsertResource(r); !s.ok()) return s;
    return absl::InvalidArgumentError("changed my mind");
  });
  EXPECT_FALSE(st.ok());
  ASSERT_TRUE(store_
                  ->Read([](Tx& tx) {
                    EXPECT_EQ(tx.GetResource("111111111111", "eu-west-1", "key-9").status().code(),
                              absl::StatusCode::kNotFound);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_P(StoreContractTest, ChangeFeedFollowsEveryCommittedWrite) {
  int64_t start = 0;
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) {
                    auto feed = tx.ListChangesSince(-1);  // "where are we": never complete
                    EXPECT_TRUE(feed.ok() && !feed->complete);
                    if (feed.ok()) start = feed->last_seq;
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(AddKeyPair("111111111111", "key-1", "a").ok());
  ASSERT_TRUE(store_
                  ->Write([](Tx& tx) -> absl::Status {
                    auto r = tx.GetResource("111111111111", "eu-west-1", "key-1");
                    if (!r.ok()) return r.status();
                    r->data["fingerprint"] = "cd";
                    return tx.UpdateResource(*r);
                  })
                  .ok());
  // A rolled-back write leaves no change behind.
  EXPECT_FALSE(store_
                   ->Write([](Tx& tx) -> absl::Status {
                     Resource r{"key-9", "111111111111", "eu-west-1", "key-pair", "z", {}, 0, 1};
                     if (auto st = tx.InsertResource(r); !st.ok()) return st;
                     return absl::AbortedError("no");
                   })
                   .ok());
  ASSERT_TRUE(
      store_->Write([](Tx& tx) { return tx.DeleteResource("111111111111", "eu-west-1", "key-1"); })
          .ok());
  int64_t last = 0;
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) {
                    auto feed = tx.ListChangesSince(start);
                    EXPECT_TRUE(feed.ok() && feed->complete);
                    if (!feed.ok() || feed->changes.size() != 3u) {
                      ADD_FAILURE() << "expected insert, update, delete";
                      return absl::OkStatus();
                    }
                    std::vector<int64_t> versions;
                    for (const auto& c : feed->changes) {
                      EXPECT_EQ(c.id, "key-1");
                      EXPECT_EQ(c.type, "key-pair");
                      EXPECT_EQ(c.account_id, "111111111111");
                      versions.push_back(c.version);
                    }
                    EXPECT_EQ(versions, (std::vector<int64_t>{1, 2, 0}));
                    EXPECT_LT(feed->changes[0].seq, feed->changes[2].seq);
                    last = feed->last_seq;
                    EXPECT_EQ(last, feed->changes[2].seq);
                    auto none = tx.ListChangesSince(last);
                    EXPECT_TRUE(none.ok() && none->complete && none->changes.empty());
                    return absl::OkStatus();
                  })
                  .ok());
  // Pruned history: a reader that had not caught up is told to re-read everything.
  ASSERT_TRUE(store_->Write([](Tx& tx) { return tx.PruneChanges(1); }).ok());
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) {
                    auto behind = tx.ListChangesSince(start);
                    EXPECT_TRUE(behind.ok() && !behind->complete);
                    auto current = tx.ListChangesSince(last);
                    EXPECT_TRUE(current.ok() && current->complete && current->changes.empty());
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_P(StoreContractTest, UpdatesAreConditionalOnVersion) {
  ASSERT_TRUE(AddKeyPair("111111111111", "key-1", "k").ok());
  Resource r;
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) {
                    r = *tx.GetResource("111111111111", "eu-west-1", "key-1");
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(r.version, 1);
  r.data["x"] = 1;
  ASSERT_TRUE(store_->Write([&](Tx& tx) { return tx.UpdateResource(r); }).ok());
  // A second writer holding the old version loses instead of overwriting.
  EXPECT_EQ(store_->Write([&](Tx& tx) { return tx.UpdateResource(r); }).code(),
            absl::StatusCode::kAborted);
}

TEST_P(StoreContractTest, TagsFollowTheirResource) {
  ASSERT_TRUE(AddKeyPair("111111111111", "key-1", "k").ok());
  ASSERT_TRUE(
      store_
          ->Write([](Tx& tx) {
            if (auto s = tx.PutTag("111111111111", "eu-west-1", {"key-1", "key-pair", "Name", "a"});
                !s.ok())
              return s;
            if (auto s = tx.PutTag("111111111111", "eu-west-1", {"key-1", "key-pair", "Name", "b"});
                !s.ok())
              return s;
            return tx.PutTag("111111111111", "eu-west-1", {"key-1", "key-pair", "env", "dev"});
          })
          .ok());
  ASSERT_TRUE(store_
                  ->Read([](Tx& tx) {
                    auto tags = tx.ListTags("111111111111", "eu-west-1", "key-1");
                    EXPECT_EQ(tags->size(), 2u);
                    EXPECT_EQ((*tags)[0].key, "Name");
                    EXPECT_EQ((*tags)[0].value, "b");
                    EXPECT_TRUE(tx.ListTags("222222222222", "eu-west-1", "")->empty());
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(
      store_->Write([](Tx& tx) { return tx.DeleteResource("111111111111", "eu-west-1", "key-1"); })
          .ok());
  ASSERT_TRUE(store_
                  ->Read([](Tx& tx) {
                    EXPECT_TRUE(tx.ListTags("111111111111", "eu-west-1", "")->empty());
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_P(StoreContractTest, IdempotencyRecords) {
  ASSERT_TRUE(store_
                  ->Write([](Tx& tx) {
                    return tx.PutIdempotency(
                        {"111111111111", "eu-west-1", "tok", "RunInstances", "h", "<x/>", 1});
                  })
                  .ok());
  EXPECT_EQ(store_
                ->Write([](Tx& tx) {
                  return tx.PutIdempotency(
                      {"111111111111", "eu-west-1", "tok", "RunInstances", "h2", "<y/>", 2});
                })
                .code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_
                  ->Read([](Tx& tx) {
                    auto r = tx.GetIdempotency("111111111111", "eu-west-1", "tok");
                    EXPECT_TRUE(r.ok() && r->has_value());
                    EXPECT_EQ((*r)->response, "<x/>");
                    EXPECT_FALSE(
                        tx.GetIdempotency("222222222222", "eu-west-1", "tok")->has_value());
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_P(StoreContractTest, ConcurrentWritersAllLand) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string id = "key-" + std::to_string(t) + "-" + std::to_string(i);
        if (!AddKeyPair("111111111111", id, id).ok()) ++failures;
        if (!store_
                 ->Read([](Tx& tx) {
                   return tx.ListResources("111111111111", "eu-west-1", "key-pair").status();
                 })
                 .ok())
          ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(store_
                  ->Read([](Tx& tx) {
                    EXPECT_EQ(tx.ListResources("111111111111", "eu-west-1", "key-pair")->size(),
                              100u);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST(SqliteStoreTest, ReopenKeepsDataAndSchemaVersion) {
  char tmpl[] = "/tmp/kumo-store-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/kumo.db";
  {
    auto s = OpenSqliteStore(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Write([](Tx& tx) {
                      return tx.InsertAccount({"111122223333", "bob", "", "active", 1});
                    })
                    .ok());
  }
  auto s = OpenSqliteStore(path);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE((*s)->Read([](Tx& tx) { return tx.GetAccount("111122223333").status(); }).ok());
  s->reset();
  std::string cmd = std::string("rm -rf ") + tmpl;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
}

TEST_P(StoreContractTest, MeterEventsAreAppendedWithTheirTransactionAndListedInOrder) {
  auto append = [&](int64_t at, const std::string& account, const std::string& subject,
                    const std::string& kind) {
    return store_->Write([&](Tx& tx) {
      return tx.AppendMeterEvent({0, at, account, "eu-west-1", subject, kind, {{"at", at}}});
    });
  };
  ASSERT_TRUE(append(10, "111111111111", "i-1", "running").ok());
  ASSERT_TRUE(append(20, "000000000000", "t2.micro", "od-price").ok());
  ASSERT_TRUE(append(30, "111111111111", "i-1", "left-running").ok());
  ASSERT_TRUE(append(40, "222222222222", "i-2", "running").ok());
  // A rolled-back change leaves no event.
  EXPECT_FALSE(store_
                   ->Write([](Tx& tx) -> absl::Status {
                     if (auto st = tx.AppendMeterEvent(
                             {0, 50, "111111111111", "eu-west-1", "i-1", "running", {}});
                         !st.ok()) {
                       return st;
                     }
                     return absl::AbortedError("no");
                   })
                   .ok());
  auto list = [&](MeterQuery q) {
    std::vector<std::string> out;
    EXPECT_TRUE(store_
                    ->Read([&](Tx& tx) -> absl::Status {
                      auto events = tx.ListMeterEvents(q);
                      if (!events.ok()) return events.status();
                      for (const auto& e : *events) {
                        EXPECT_EQ(e.data.value("at", int64_t(-1)), e.at_ms);
                        out.push_back(e.subject + "@" + std::to_string(e.at_ms));
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list({}), (V{"i-1@10", "t2.micro@20", "i-1@30", "i-2@40"}));
  EXPECT_EQ(list({.account_id = "111111111111"}), (V{"i-1@10", "i-1@30"}));
  EXPECT_EQ(list({.account_id = "111111111111", .kind = "running"}), (V{"i-1@10"}));
  EXPECT_EQ(list({.subject = "t2.micro"}), (V{"t2.micro@20"}));
  EXPECT_EQ(list({.before_ms = 30}), (V{"i-1@10", "t2.micro@20"}));
  EXPECT_EQ(list({.region = "us-east-1"}), V{});
  // Paging by seq.
  int64_t second = 0;
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) -> absl::Status {
                    auto events = tx.ListMeterEvents({.limit = 2});
                    if (!events.ok()) return events.status();
                    EXPECT_EQ(events->size(), 2u);
                    if (events->size() == 2) second = (*events)[1].seq;
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(list({.after_seq = second}), (V{"i-1@30", "i-2@40"}));
  // Reads cannot write.
  EXPECT_FALSE(store_
                   ->Read([](Tx& tx) {
                     return tx.AppendMeterEvent({0, 1, "111111111111", "r", "s", "k", {}});
                   })
                   .ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest, ::testing::Values("memory", "file"));

}  // namespace
}  // namespace kumo::store
