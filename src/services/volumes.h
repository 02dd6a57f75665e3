// Volumes and snapshots: the API half of block storage. As with instances, actions only change
// desired state in the store (one transaction each); the reconciler makes the host match (format,
// mount, freeze and copy, grow, delete) and records what actually happened.
//
// A volume is a store::Resource of type "volume" whose data holds:
//   {"size_gib", "availability_zone", "snapshot_id", "volume_type", "iops", "throughput",
//    "client_token", "root": bool (an instance's root volume), "base_image_id" (a root volume's:
//    the operator image below its layer),
//    "state": "creating"|"available"|"in-use"|"deleting",
//    "attachment": null | {"instance_id", "device", "state": "attaching"|"attached"|"detaching",
//                          "attach_ms", "delete_on_termination", "force"},
//    "modification": null | {"state": "modifying"|"completed"|"failed", "original_size_gib",
//                            "target_size_gib", "start_ms", "end_ms"}}
// A snapshot is a resource of type "snapshot":
//   {"volume_id", "volume_size_gib", "description", "state": "pending"|"completed"|"error",
//    "start_ms", "source_snapshot_id" (CopySnapshot), "source_region", "data_bytes",
//    "base_image_id" (a root volume's: the image its upper layer sits on)}
//
// Money: every change of what is stored (created, resized, deleted) appends a meter event to the
// ledger in the same transaction ("volume-created", "snapshot-deleted", …: billing/ledger.h),
// from which the bill rates GiB-months.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "services/caller.h"
#include "services/images.h"
#include "services/tags.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kVolumeType = "volume";
inline constexpr std::string_view kSnapshotType = "snapshot";
// Meter events of the storage issue before the ledger existed; moved to it at start-up.
inline constexpr std::string_view kMeterEventType = "meter-event";
inline constexpr std::string_view kRootDevice = "/dev/xvda";
inline constexpr int kMaxVolumeGib = 16384;

// The caller's volume, or InvalidVolume.NotFound / InvalidVolumeID.Malformed.
absl::StatusOr<store::Resource> GetVolume(store::Tx& tx, const Caller& caller,
                                          const std::string& id);

// Where an attached data volume appears inside the instance: /dev/sdf → /mnt/sdf.
std::string MountNameOfDevice(const std::string& device);

absl::StatusOr<nlohmann::json> CreateVolume(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteVolume(store::Tx& tx, const Caller& caller,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeVolumes(store::Tx& tx, const Caller& caller,
                                               const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeVolumeStatus(store::Tx& tx, const Caller& caller,
                                                    const nlohmann::json& input);
absl::StatusOr<nlohmann::json> AttachVolume(store::Tx& tx, const Caller& caller,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DetachVolume(store::Tx& tx, const Caller& caller,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ModifyVolume(store::Tx& tx, const Caller& caller,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeVolumesModifications(store::Tx& tx, const Caller& caller,
                                                            const nlohmann::json& input);

absl::StatusOr<nlohmann::json> CreateSnapshot(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                              const nlohmann::json& input);
absl::StatusOr<nlohmann::json> CreateSnapshots(store::Tx& tx, const Caller& caller,
                                               IdGenerator& ids, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> CopySnapshot(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteSnapshot(store::Tx& tx, const Caller& caller,
                                              const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeSnapshots(store::Tx& tx, const Caller& caller,
                                                 const nlohmann::json& input);

// A pending snapshot of the volume, in the caller's transaction (CreateSnapshot(s), CreateImage).
absl::StatusOr<store::Resource> NewSnapshotOf(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                              const store::Resource& volume,
                                              const std::string& description,
                                              const std::vector<TagInput>& tags);
// A pending copy of a completed snapshot, whoever owns it (CopySnapshot, CopyImage).
absl::StatusOr<store::Resource> NewSnapshotCopy(store::Tx& tx, const Caller& caller,
                                                IdGenerator& ids, const store::Resource& source,
                                                const std::string& description,
                                                const std::vector<TagInput>& tags);

// A snapshot the caller may create a volume from (its own; completed), or
// InvalidSnapshot.NotFound / IncorrectState.
absl::StatusOr<store::Resource> GetSnapshotForUse(store::Tx& tx, const Caller& caller,
                                                  const std::string& id);

// For RunInstances: the volumes the image's and the request's BlockDeviceMappings ask for (the
// root volume first, sized from the mapping for the root device or the image's default; the
// request's mappings override the image's by device), created attached to the instance in the
// caller's transaction. Validates before writing anything.
struct LaunchVolumes {
  std::string base_image_id;
  std::string root_snapshot_id;  // a custom image's layer
  int root_size_gib = 8;
  bool root_delete_on_termination = true;
  std::string root_volume_type = "gp2";
  struct Extra {
    std::string device;
    int size_gib = 0;
    std::string snapshot_id;
    bool delete_on_termination = true;
    std::string volume_type = "gp2";
  };
  std::vector<Extra> extra;
};
absl::StatusOr<LaunchVolumes> ParseBlockDeviceMappings(store::Tx& tx, const Caller& caller,
                                                       const nlohmann::json& mappings,
                                                       const LaunchImage& image);
absl::Status CreateLaunchVolumes(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                 const LaunchVolumes& volumes, const std::string& instance_id,
                                 const std::string& zone, const nlohmann::json& tag_specs);

// The instance's volumes, root first then by device: for DescribeInstances' BlockDeviceMappings
// and for the host spec.
absl::StatusOr<std::vector<store::Resource>> VolumesOfInstance(store::Tx& tx,
                                                               const std::string& account_id,
                                                               const std::string& region,
                                                               const std::string& instance_id);
// How DescribeInstances shows one attached volume.
nlohmann::json InstanceBlockDevice(const store::Resource& volume);

// The instance has terminated: volumes marked DeleteOnTermination go (deleting), the others are
// detached (available). In the transaction that records the termination.
absl::Status ReleaseInstanceVolumes(store::Tx& tx, const std::string& account_id,
                                    const std::string& region, const std::string& instance_id,
                                    int64_t now_ms);

// A meter event for billing, in the caller's transaction.
absl::Status RecordMeterEvent(store::Tx& tx, const store::Resource& resource,
                              std::string_view event, int64_t size_gib, int64_t now_ms);

}  // namespace kumo::services
