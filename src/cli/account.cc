// kumo account …: operator commands that work on a data directory directly, whether or not kumod
// is running on it (SQLite serializes the writers).
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/ids.h"
#include "crypto/secretbox.h"
#include "daemon/data_dir.h"
#include "services/accounts.h"
#include "store/sqlite_store.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

struct Session {
  std::unique_ptr<store::Store> store;
  std::optional<crypto::SecretBox> box;
  RandomIdGenerator ids;
  SystemClock clock;
  std::unique_ptr<services::Accounts> accounts;
};

// Operator rights over a data directory are the right to read its operator credentials.
std::unique_ptr<Session> Open(const Globals& g) {
  if (auto st = daemon::PrepareDataDir(g.data_dir); !st.ok()) Fail(std::string(st.message()));
  std::ifstream op(daemon::DataDir::OperatorCredentials(g.data_dir));
  json creds = json::parse(op, nullptr, false);
  if (!op || creds.is_discarded() || !creds.contains("AccessKeyId")) {
    Fail("Cannot read the operator credentials in " +
         daemon::DataDir::OperatorCredentials(g.data_dir) + " (operator rights are needed)");
  }
  auto s = std::make_unique<Session>();
  auto box = crypto::SecretBox::FromKeyFile(daemon::DataDir::SecretKey(g.data_dir));
  if (!box.ok()) Fail(std::string(box.status().message()));
  s->box.emplace(std::move(*box));
  auto store = store::OpenSqliteStore(daemon::DataDir::Database(g.data_dir));
  if (!store.ok()) Fail(std::string(store.status().message()));
  s->store = std::move(*store);
  s->accounts = std::make_unique<services::Accounts>(*s->store, *s->box, s->ids, s->clock);
  return s;
}

void Check(const absl::Status& st) {
  if (!st.ok()) Fail(std::string(st.message()), absl::IsNotFound(st) ? 3 : 1);
}

// The running daemon's endpoint and home region, for --write-profile.
std::pair<std::string, std::string> DaemonDefaults(const Globals& g) {
  std::ifstream in(daemon::DataDir::RuntimeInfo(g.data_dir));
  json info = json::parse(in, nullptr, false);
  std::string endpoint = "http://127.0.0.1:8787", region = "eu-west-1";
  if (!info.is_discarded() && info.is_object()) {
    endpoint = info.value("endpoint", endpoint);
    if (info.contains("regions") && !info["regions"].empty()) region = info["regions"][0];
  }
  return {endpoint, region};
}

void Print(const json& j) { std::cout << j.dump(2) << std::endl; }

}  // namespace

void AddAccountCommands(CLI::App& app, Globals& g) {
  auto* account = app.add_subcommand("account", "Tenant accounts and their access keys");
  account->require_subcommand(1);

  auto* create = account->add_subcommand("create", "Create an account with its first access key");
  static std::string name, email, account_id, profile, region, endpoint;
  create->add_option("name", name, "Account name")->required();
  create->add_option("--email", email, "Contact e-mail");
  create->add_option("--account-id", account_id, "12-digit account id (default random)");
  create->add_option("--write-profile", profile,
                     "Also write this aws profile to the shared credentials and config files");
  create->add_option("--region", region, "Region for the profile (default: the daemon's home)");
  create->add_option("--endpoint", endpoint, "Endpoint for the profile (default: the daemon's)");
  create->callback([&g] {
    auto s = Open(g);
    auto r = s->accounts->Create(name, email, account_id);
    Check(r.status());
    if (!profile.empty()) {
      auto [def_endpoint, def_region] = DaemonDefaults(g);
      std::string error;
      if (!WriteAwsProfile(profile, r->access_key_id, r->secret_access_key,
                           region.empty() ? def_region : region,
                           endpoint.empty() ? def_endpoint : endpoint, &error)) {
        Fail("Account created but the profile was not written: " + error);
      }
    }
    Print({{"AccountId", r->account.id},
           {"AccessKeyId", r->access_key_id},
           {"SecretAccessKey", r->secret_access_key}});
  });

  account->add_subcommand("list", "List accounts")->callback([&g] {
    auto s = Open(g);
    auto r = s->accounts->List();
    Check(r.status());
    json out = json::array();
    for (const auto& a : *r) {
      out.push_back({{"AccountId", a.id},
                     {"Name", a.name},
                     {"Email", a.email},
                     {"Status", a.status},
                     {"CreateTime", FormatIso8601(FromUnixMillis(a.created_ms))}});
    }
    Print(out);
  });

  static std::string target;
  for (const char* status : {"suspend", "activate"}) {
    auto* cmd = account->add_subcommand(status, std::string(status) + " an account");
    cmd->add_option("account", target, "Account name or id")->required();
    std::string new_status = std::string(status) == "suspend" ? "suspended" : "active";
    cmd->callback([&g, new_status] {
      auto s = Open(g);
      Check(s->accounts->SetStatus(target, new_status));
      Print({{"Account", target}, {"Status", new_status}});
    });
  }

  auto* keys = account->add_subcommand("keys", "Access keys (at most two per account)");
  keys->require_subcommand(1);
  auto* kcreate = keys->add_subcommand("create", "Create a second access key");
  kcreate->add_option("account", target, "Account name or id")->required();
  kcreate->callback([&g] {
    auto s = Open(g);
    auto r = s->accounts->CreateKey(target);
    Check(r.status());
    Print({{"AccountId", r->account.id},
           {"AccessKeyId", r->access_key_id},
           {"SecretAccessKey", r->secret_access_key}});
  });
  auto* klist = keys->add_subcommand("list", "List an account's access keys");
  klist->add_option("account", target, "Account name or id")->required();
  klist->callback([&g] {
    auto s = Open(g);
    auto r = s->accounts->ListKeys(target);
    Check(r.status());
    json out = json::array();
    for (const auto& k : *r) {
      out.push_back({{"AccessKeyId", k.id},
                     {"Status", k.status},
                     {"CreateDate", FormatIso8601(FromUnixMillis(k.created_ms))}});
    }
    Print(out);
  });
  static std::string key_id;
  for (const char* verb : {"disable", "enable", "delete"}) {
    auto* cmd = keys->add_subcommand(verb, std::string(verb) + " an access key");
    cmd->add_option("access-key-id", key_id, "AKIA…")->required();
    std::string v = verb;
    cmd->callback([&g, v] {
      auto s = Open(g);
      if (v == "delete") {
        Check(s->accounts->DeleteKey(key_id));
        Print({{"AccessKeyId", key_id}, {"Deleted", true}});
      } else {
        Check(s->accounts->SetKeyStatus(key_id, v == "enable"));
        Print({{"AccessKeyId", key_id}, {"Status", v == "enable" ? "Active" : "Inactive"}});
      }
    });
  }
}

}  // namespace kumo::cli
