// The operations behind the admin API (api/admin_api.h): the simulated clock and the spot
// market's operator hooks (specs/spot.md §7: set-capacity, set-price, interrupt, rebalance,
// advance-clock), plus the order book of a pool.
#pragma once

#include <functional>
#include <string>

#include "api/admin_api.h"
#include "daemon/market_runner.h"
#include "host/gpu/gpu.h"
#include "services/activity.h"
#include "services/regions.h"

namespace kumo::daemon {

struct AdminContext {
  store::Store* store = nullptr;
  const services::InstanceEnv* env = nullptr;
  const services::Regions* regions = nullptr;
  const Clock* clock = nullptr;
  SimulatedClock* simulated = nullptr;  // null with the system clock
  MarketRunner* market = nullptr;
  std::string data_dir;
  std::function<void()> instances_changed;
  const services::ActivityMonitor* activity = nullptr;
  const host::GpuInventory* gpus = nullptr;
};

std::map<std::string, api::AdminOperation, std::less<>> AdminOperations(const AdminContext& c);

}  // namespace kumo::daemon
