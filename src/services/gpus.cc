#include "services/gpus.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "services/images.h"
#include "services/instances.h"

namespace kumo::services {

using nlohmann::json;

namespace {

std::string ClaimId(const std::string& uuid) {
  return "gpuclaim-" + HexEncode(Sha256(uuid)).substr(0, 17);
}

bool Holds(const store::Resource& r) {
  std::string s = r.data.value("state", "");
  return s == "pending" || s == "running" || s == "stopping" || s == "shutting-down";
}

bool WantsGpus(const store::Resource& r) {
  return r.data.value("gpus", 0) > 0 && AssignedGpus(r).empty() &&
         r.data.value("state", "") == "pending" && r.data.value("desired", "") == "running";
}

bool Spot(const store::Resource& r) { return r.data.value("instance_lifecycle", "") == "spot"; }

}  // namespace

std::vector<host::Gpu> AssignedGpus(const store::Resource& instance) {
  std::vector<host::Gpu> out;
  for (const auto& g : instance.data.value("gpu_assignment", json::array())) {
    host::Gpu gpu;
    gpu.minor = g.value("minor", 0);
    gpu.uuid = g.value("uuid", "");
    gpu.name = g.value("name", "");
    gpu.memory_mib = g.value("memory_mib", int64_t(0));
    gpu.pci_bus_id = g.value("pci_bus_id", "");
    gpu.device = g.value("device", "");
    out.push_back(std::move(gpu));
  }
  return out;
}

absl::StatusOr<bool> AssignGpus(store::Tx& tx, const std::vector<host::Gpu>& gpus,
                                store::Resource& instance, int64_t now_ms) {
  int want = instance.data.value("gpus", 0);
  if (want <= 0 || !AssignedGpus(instance).empty()) return true;
  ASSIGN_OR_RETURN(auto claims, tx.ListAllResources(kGpuClaimType));
  std::set<std::string> taken;
  for (const auto& c : claims) taken.insert(c.name);
  std::vector<const host::Gpu*> free;
  for (const auto& g : gpus) {
    if (!taken.count(g.uuid)) free.push_back(&g);
  }
  if (Spot(instance)) {
    // On-demand launches waiting for GPUs go first: the spot instances the market reclaimed
    // for them must not be replaced by other spot instances.
    ASSIGN_OR_RETURN(auto all, tx.ListAllResources(kInstanceType));
    size_t waiting = 0;
    for (const auto& r : all) {
      if (r.id != instance.id && !Spot(r) && WantsGpus(r)) waiting += r.data.value("gpus", 0);
    }
    if (free.size() < waiting + size_t(want)) return false;
  }
  if (free.size() < size_t(want)) return false;
  json assignment = json::array();
  for (int i = 0; i < want; ++i) {
    const host::Gpu& g = *free[size_t(i)];
    RETURN_IF_ERROR(tx.InsertResource({ClaimId(g.uuid),
                                       std::string(kOperatorOwnerId),
                                       "",
                                       std::string(kGpuClaimType),
                                       g.uuid,
                                       {{"instance_id", instance.id},
                                        {"account_id", instance.account_id},
                                        {"region", instance.region}},
                                       0,
                                       now_ms}));
    assignment.push_back({{"minor", g.minor},
                          {"uuid", g.uuid},
                          {"name", g.name},
                          {"memory_mib", g.memory_mib},
                          {"pci_bus_id", g.pci_bus_id},
                          {"device", g.device}});
  }
  instance.data["gpu_assignment"] = std::move(assignment);
  instance.data["gpu_assigned_ms"] = now_ms;
  return true;
}

absl::Status ReleaseGpus(store::Tx& tx, store::Resource& instance) {
  for (const auto& g : AssignedGpus(instance)) {
    ASSIGN_OR_RETURN(auto claim, tx.FindResourceByName(std::string(kOperatorOwnerId), "",
                                                       kGpuClaimType, g.uuid));
    if (claim && claim->data.value("instance_id", "") == instance.id) {
      RETURN_IF_ERROR(tx.DeleteResource(std::string(kOperatorOwnerId), "", claim->id));
    }
  }
  instance.data.erase("gpu_assignment");
  instance.data.erase("gpu_assigned_ms");
  return absl::OkStatus();
}

absl::StatusOr<int> RepairGpuClaims(store::Tx& tx, const std::vector<host::Gpu>& gpus) {
  ASSIGN_OR_RETURN(auto claims, tx.ListAllResources(kGpuClaimType));
  ASSIGN_OR_RETURN(auto instances, tx.ListAllResources(kInstanceType));
  std::map<std::string, const store::Resource*> by_id;
  for (const auto& r : instances) by_id[r.id] = &r;
  std::set<std::string> here;
  for (const auto& g : gpus) here.insert(g.uuid);
  int removed = 0;
  for (const auto& c : claims) {
    std::string holder = c.data.value("instance_id", "");
    auto it = by_id.find(holder);
    bool held = false;
    if (it != by_id.end() && Holds(*it->second)) {
      for (const auto& g : AssignedGpus(*it->second)) held = held || g.uuid == c.name;
    }
    if (held) {
      if (!here.count(c.name)) {
        spdlog::warn("instance {} holds GPU {}, which this host no longer has", holder, c.name);
      }
      continue;
    }
    RETURN_IF_ERROR(tx.DeleteResource(std::string(kOperatorOwnerId), "", c.id));
    ++removed;
  }
  return removed;
}

std::string ElasticGpuId(const std::string& instance_id, const std::string& gpu_uuid) {
  return "egpu-" + HexEncode(Sha256(instance_id + "/" + gpu_uuid)).substr(0, 17);
}

json ElasticGpuAssociations(const store::Resource& instance) {
  json out = json::array();
  for (const auto& g : AssignedGpus(instance)) {
    std::string id = ElasticGpuId(instance.id, g.uuid);
    out.push_back({{"ElasticGpuId", id},
                   {"ElasticGpuAssociationId", "egpu-assoc-" + id.substr(5)},
                   {"ElasticGpuAssociationState", "associated"},
                   {"ElasticGpuAssociationTime", FormatIso8601(FromUnixMillis(instance.data.value(
                                                     "gpu_assigned_ms", int64_t(0))))}});
  }
  return out;
}

absl::StatusOr<json> GpuAssignments(store::Tx& tx, const std::vector<host::Gpu>& gpus) {
  ASSIGN_OR_RETURN(auto claims, tx.ListAllResources(kGpuClaimType));
  std::map<std::string, const store::Resource*> by_uuid;
  for (const auto& c : claims) by_uuid[c.name] = &c;
  json out = json::array();
  for (const auto& g : gpus) {
    json j = {{"Minor", g.minor},          {"Uuid", g.uuid},           {"Name", g.name},
              {"MemoryMiB", g.memory_mib}, {"PciBusId", g.pci_bus_id}, {"Device", g.device},
              {"InstanceId", nullptr},     {"AccountId", nullptr}};
    if (auto it = by_uuid.find(g.uuid); it != by_uuid.end()) {
      j["InstanceId"] = it->second->data.value("instance_id", "");
      j["AccountId"] = it->second->data.value("account_id", "");
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace kumo::services
