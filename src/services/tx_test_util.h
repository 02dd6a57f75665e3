// For the services' tests: a service call in one transaction, its JSON or its error.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace kumo::services {

using TxJsonFn = std::function<absl::StatusOr<nlohmann::json>(store::Tx&)>;

inline absl::StatusOr<nlohmann::json> RunTx(store::Store& store, bool write, const TxJsonFn& fn) {
  nlohmann::json out;
  auto body = [&](store::Tx& tx) -> absl::Status {
    auto r = fn(tx);
    if (!r.ok()) return r.status();
    out = *r;
    return absl::OkStatus();
  };
  absl::Status st = write ? store.Write(body) : store.Read(body);
  if (!st.ok()) return st;
  return out;
}

}  // namespace kumo::services
