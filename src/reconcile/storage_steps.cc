// The reconciler's storage steps: volumes (create, attach, detach, grow, delete), snapshots
// (freeze and copy), images (available once their snapshots are), and the garbage a crash
// between a record's change and the host's can leave.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/status_macros.h"
#include "reconcile/reconciler.h"
#include "reconcile/storage.h"
#include "services/images.h"
#include "services/instances.h"
#include "services/volumes.h"

namespace kumo::reconcile {

using nlohmann::json;

namespace {

std::string Str(const store::Resource& r, const char* key) { return r.data.value(key, ""); }

}  // namespace

json AttachmentOf(const store::Resource& v) {
  json a = v.data.value("attachment", json());
  return a.is_object() ? a : json();
}

host::VolumeMount MountOf(const store::Resource& v) {
  return {v.id, services::MountNameOfDevice(AttachmentOf(v).value("device", ""))};
}

host::VolumeSpec VolumeSpecOf(const store::Resource& v,
                              const std::map<std::string, const store::Resource*>& instances) {
  host::VolumeSpec spec;
  spec.volume_id = v.id;
  spec.size_bytes = v.data.value("size_gib", int64_t(1)) << 30;
  spec.snapshot_id = Str(v, "snapshot_id");
  json a = AttachmentOf(v);
  std::string instance_id = a.is_null() ? "" : a.value("instance_id", "");
  if (!instance_id.empty() && instances.count(instance_id)) {
    spec.instance_id = instance_id;
    spec.mount_name = v.data.value("root", false) ? "" : MountOf(v).name;
  }
  return spec;
}

absl::StatusOr<bool> Reconciler::StepVolume(
    const store::Resource& v, const std::map<std::string, const store::Resource*>& instances) {
  std::string state = Str(v, "state");
  int64_t now = UnixMillis(clock_.Now());
  if (state == "creating") {
    RETURN_IF_ERROR(host_.CreateVolume(VolumeSpecOf(v, instances)));
    RETURN_IF_ERROR(UpdateResource(v, [](store::Tx& tx, store::Resource& x) {
      x.data["state"] = "available";
      return tx.UpdateResource(x);
    }));
    return true;
  }
  if (state == "deleting") {
    RETURN_IF_ERROR(host_.DeleteVolume(v.id));
    // Metered when the deletion was asked for (DeleteVolume, delete on termination).
    RETURN_IF_ERROR(UpdateResource(v, [&](store::Tx& tx, store::Resource& x) -> absl::Status {
      ASSIGN_OR_RETURN(auto tags, tx.ListTags(x.account_id, x.region, x.id));
      for (const auto& t : tags) RETURN_IF_ERROR(tx.DeleteTag(x.account_id, x.region, x.id, t.key));
      return tx.DeleteResource(x.account_id, x.region, x.id);
    }));
    return true;
  }
  json a = AttachmentOf(v);
  if (!a.is_null()) {
    std::string attach_state = a.value("state", "");
    std::string instance_id = a.value("instance_id", "");
    auto it = instances.find(instance_id);
    std::string istate = it == instances.end() ? "terminated" : Str(*it->second, "state");
    if (istate == "terminated" && !v.data.value("root", false)) {
      // Its instance is gone (the termination released its volumes; this one raced it).
      RETURN_IF_ERROR(UpdateResource(v, [](store::Tx& tx, store::Resource& x) {
        x.data["attachment"] = nullptr;
        x.data["state"] = "available";
        return tx.UpdateResource(x);
      }));
      return true;
    }
    if (attach_state == "attaching") {
      if (istate == "running") {
        RETURN_IF_ERROR(host_.AttachVolume(instance_id, MountOf(v)));
      } else if (istate != "stopped") {
        return true;  // launching or stopping: attached once it settles
      }
      RETURN_IF_ERROR(UpdateResource(v, [](store::Tx& tx, store::Resource& x) {
        x.data["attachment"]["state"] = "attached";
        return tx.UpdateResource(x);
      }));
      return true;
    }
    if (attach_state == "detaching") {
      if (istate == "pending" || istate == "stopping") return true;
      bool force = a.value("force", false);
      absl::Status st = host_.DetachVolume(instance_id, MountOf(v), force);
      if (absl::IsFailedPrecondition(st)) {
        // Still in use inside the instance: EC2 keeps it detaching until it is unmounted or the
        // detach is forced. Tried again every second or so, not every busy pass.
        if (now - busy_detach_ms_[v.id] > 5000) {
          spdlog::info("volume {}: {}", v.id, std::string(st.message()));
        }
        busy_detach_ms_[v.id] = now;
        return false;
      }
      RETURN_IF_ERROR(st);
      busy_detach_ms_.erase(v.id);
      RETURN_IF_ERROR(UpdateResource(v, [](store::Tx& tx, store::Resource& x) {
        x.data["attachment"] = nullptr;
        x.data["state"] = "available";
        return tx.UpdateResource(x);
      }));
      return true;
    }
  }
  json m = v.data.value("modification", json());
  if (m.is_object() && m.value("state", "") == "modifying") {
    host::VolumeSpec spec = VolumeSpecOf(v, instances);
    int64_t target = m.value("target_size_gib", int64_t(1));
    spec.size_bytes = target << 30;
    absl::Status grown = host_.GrowVolume(spec);
    if (absl::IsPermissionDenied(grown)) {
      // Online ext4 resize needs CAP_SYS_RESOURCE, which some hosts (containers) lack: the
      // volume grows offline once its instance stops or it is detached.
      if (now - busy_detach_ms_[v.id] > 60000) {
        spdlog::info("volume {} grows when it is next unmounted: {}", v.id,
                     std::string(grown.message()));
        busy_detach_ms_[v.id] = now;
      }
      return false;
    }
    RETURN_IF_ERROR(grown);
    busy_detach_ms_.erase(v.id);
    RETURN_IF_ERROR(UpdateResource(v, [&](store::Tx& tx, store::Resource& x) -> absl::Status {
      x.data["size_gib"] = target;
      x.data["modification"]["state"] = "completed";
      x.data["modification"]["end_ms"] = now;
      RETURN_IF_ERROR(services::RecordMeterEvent(tx, x, "resized", target, now));
      return tx.UpdateResource(x);
    }));
    return true;
  }
  return false;
}

absl::StatusOr<bool> Reconciler::StepSnapshot(
    const store::Resource& s, const std::map<std::string, const store::Resource*>& volumes,
    const std::map<std::string, const store::Resource*>& instances) {
  if (Str(s, "state") != "pending") return false;
  int64_t now = UnixMillis(clock_.Now());
  auto fail = [&](const std::string& why) {
    return UpdateResource(s, [&](store::Tx& tx, store::Resource& x) {
      x.data["state"] = "error";
      x.data["state_message"] = why;
      return tx.UpdateResource(x);
    });
  };
  int64_t bytes = 0;
  if (std::string source = Str(s, "source_snapshot_id"); !source.empty()) {
    RETURN_IF_ERROR(host_.CopySnapshot(source, s.id));
  } else {
    auto it = volumes.find(Str(s, "volume_id"));
    if (it == volumes.end()) {
      RETURN_IF_ERROR(fail("The volume was deleted before the snapshot was taken"));
      return true;
    }
    const store::Resource& v = *it->second;
    std::string vstate = Str(v, "state");
    if (vstate == "creating") return true;
    if (vstate == "deleting") {
      RETURN_IF_ERROR(fail("The volume was deleted before the snapshot was taken"));
      return true;
    }
    json a = AttachmentOf(v);
    if (!a.is_null()) {
      auto inst = instances.find(a.value("instance_id", ""));
      std::string istate = inst == instances.end() ? "" : Str(*inst->second, "state");
      // A root volume exists once its instance has launched; mounts settle with the instance.
      if (istate == "pending" || istate == "stopping" || istate == "shutting-down") return true;
      if (a.value("state", "") != "attached") return true;
    }
    ASSIGN_OR_RETURN(bytes, host_.SnapshotVolume(VolumeSpecOf(v, instances), s.id));
  }
  RETURN_IF_ERROR(UpdateResource(s, [&](store::Tx& tx, store::Resource& x) -> absl::Status {
    x.data["state"] = "completed";
    x.data["data_bytes"] = bytes;
    x.data["completed_ms"] = now;
    RETURN_IF_ERROR(services::RecordMeterEvent(tx, x, "created",
                                               x.data.value("volume_size_gib", int64_t(0)), now));
    return tx.UpdateResource(x);
  }));
  return true;
}

absl::Status Reconciler::CollectStorageGarbage(const std::vector<store::Resource>& volumes,
                                               const std::vector<store::Resource>& snapshots) {
  // Files without a record: a snapshot deleted through the API (its record goes first), or a
  // record removed by hand. Records are written before files, so nothing in flight is taken.
  std::set<std::string> known;
  for (const auto& s : snapshots) known.insert(s.id);
  ASSIGN_OR_RETURN(auto on_host, host_.ListSnapshots());
  for (const auto& id : on_host) {
    if (known.count(id)) continue;
    spdlog::info("removing the file of deleted snapshot {}", id);
    RETURN_IF_ERROR(host_.DeleteSnapshot(id));
  }
  known.clear();
  for (const auto& v : volumes) known.insert(v.id);
  ASSIGN_OR_RETURN(on_host, host_.ListVolumes());
  for (const auto& id : on_host) {
    if (known.count(id)) continue;
    spdlog::info("removing the file of deleted volume {}", id);
    RETURN_IF_ERROR(host_.DeleteVolume(id));
  }
  return absl::OkStatus();
}

absl::Status Reconciler::CreateLaunchVolumes(const store::Resource& instance,
                                             const std::vector<store::Resource>& volumes) {
  // The root volume is the host's to create (it also seeds it); data volumes RunInstances asked
  // for are created here, from their snapshots where they have one, before they are mounted.
  std::map<std::string, const store::Resource*> none;
  for (const auto& v : volumes) {
    json a = AttachmentOf(v);
    if (a.is_null() || a.value("instance_id", "") != instance.id) continue;
    if (v.data.value("root", false)) continue;
    RETURN_IF_ERROR(host_.CreateVolume(VolumeSpecOf(v, none)));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Reconciler::StepImage(
    const store::Resource& image, const std::map<std::string, const store::Resource*>& snapshots) {
  if (Str(image, "state") != "pending") return false;
  std::string failure;
  for (const auto& m : image.data.value("mappings", json::array())) {
    std::string id = m.value("snapshot_id", "");
    if (id.empty()) continue;
    auto it = snapshots.find(id);
    if (it == snapshots.end()) {
      failure = fmt::format("The snapshot {} was deleted before the image was made", id);
      break;
    }
    std::string state = Str(*it->second, "state");
    if (state == "error") {
      failure = fmt::format("The snapshot {} failed: {}", id, Str(*it->second, "state_message"));
      break;
    }
    if (state != "completed") return true;
  }
  RETURN_IF_ERROR(UpdateResource(image, [&](store::Tx& tx, store::Resource& x) {
    x.data["state"] = failure.empty() ? "available" : "failed";
    if (!failure.empty()) x.data["state_message"] = failure;
    return tx.UpdateResource(x);
  }));
  return true;
}

}  // namespace kumo::reconcile
