// CreateSnapshot(s), CopySnapshot, DeleteSnapshot, DescribeSnapshots. A snapshot starts pending;
// the reconciler freezes the volume's filesystem, copies it into the host's snapshot store and
// completes it.
#include <fmt/format.h>

#include <set>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/images.h"
#include "services/instances.h"
#include "services/tags.h"
#include "services/volumes.h"

namespace kumo::services {
namespace {

using nlohmann::json;

std::string Str(const store::Resource& r, const char* key) { return r.data.value(key, ""); }
std::string Iso(int64_t ms) { return FormatIso8601(FromUnixMillis(ms)); }

absl::Status SnapshotNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidSnapshot.NotFound",
                  fmt::format("The snapshot '{}' does not exist.", id));
}

absl::StatusOr<store::Resource> GetSnapshot(store::Tx& tx, const Caller& caller,
                                            const std::string& region, const std::string& id) {
  if (id.rfind("snap-", 0) != 0) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidSnapshotID.Malformed",
                    fmt::format("Invalid id: \"{}\" (expecting \"snap-...\")", id));
  }
  auto r = tx.GetResource(caller.account_id, region, id);
  if (absl::IsNotFound(r.status()) || (r.ok() && r->type != kSnapshotType)) {
    return SnapshotNotFound(id);
  }
  return r;
}

std::string Progress(const store::Resource& s) {
  return Str(s, "state") == "completed" ? "100%" : "0%";
}

json RenderSnapshot(const store::Resource& s, const std::vector<store::Tag>& tags) {
  json out = {{"SnapshotId", s.id},
              {"VolumeId", Str(s, "volume_id")},
              {"VolumeSize", s.data.value("volume_size_gib", 0)},
              {"State", Str(s, "state")},
              {"StartTime", Iso(s.data.value("start_ms", s.created_ms))},
              {"Progress", Progress(s)},
              {"OwnerId", s.account_id},
              {"Description", Str(s, "description")},
              {"Encrypted", false},
              {"StorageTier", "standard"},
              {"Tags", TagSetJson(tags)}};
  if (Str(s, "state") == "error") out["StateMessage"] = Str(s, "state_message");
  return out;
}

FilterFields SnapshotFields(const store::Resource& s) {
  return FilterFields{{"snapshot-id", s.id},
                      {"volume-id", Str(s, "volume_id")},
                      {"status", Str(s, "state")},
                      {"owner-id", s.account_id},
                      {"description", Str(s, "description")},
                      {"volume-size", std::to_string(s.data.value("volume_size_gib", 0))},
                      {"start-time", Iso(s.data.value("start_ms", s.created_ms))},
                      {"progress", Progress(s)},
                      {"encrypted", "false"},
                      {"storage-tier", "standard"}};
}

// A pending snapshot record with `data` (plus state and start time), tagged.
absl::StatusOr<store::Resource> InsertSnapshot(store::Tx& tx, const Caller& caller,
                                               IdGenerator& ids, json data,
                                               const std::vector<TagInput>& tags) {
  int64_t now = UnixMillis(caller.now);
  data["state"] = "pending";
  data["start_ms"] = now;
  store::Resource s{ids.ResourceId("snap"),
                    caller.account_id,
                    caller.region,
                    std::string(kSnapshotType),
                    "",
                    std::move(data),
                    0,
                    now};
  RETURN_IF_ERROR(tx.InsertResource(s));
  RETURN_IF_ERROR(ApplyTags(tx, caller, s.id, "snapshot", tags));
  return s;
}

}  // namespace

absl::StatusOr<store::Resource> NewSnapshotOf(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                              const store::Resource& volume,
                                              const std::string& description,
                                              const std::vector<TagInput>& tags) {
  if (volume.data.value("state", "") == "creating" ||
      volume.data.value("state", "") == "deleting") {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                    fmt::format("Volume '{}' is in the '{}' state.", volume.id,
                                volume.data.value("state", "")));
  }
  return InsertSnapshot(tx, caller, ids,
                        {{"volume_id", volume.id},
                         {"volume_size_gib", volume.data.value("size_gib", 1)},
                         {"description", description},
                         // A root volume's snapshot holds an upper layer above this image: what
                         // RegisterImage needs to know to make an image of it.
                         {"base_image_id", Str(volume, "base_image_id")}},
                        tags);
}

absl::StatusOr<store::Resource> NewSnapshotCopy(store::Tx& tx, const Caller& caller,
                                                IdGenerator& ids, const store::Resource& source,
                                                const std::string& description,
                                                const std::vector<TagInput>& tags) {
  return InsertSnapshot(tx, caller, ids,
                        {{"volume_id", "vol-ffffffff"},  // what EC2 shows for a copy
                         {"volume_size_gib", source.data.value("volume_size_gib", 1)},
                         {"description", description},
                         {"source_snapshot_id", source.id},
                         {"source_region", source.region},
                         {"base_image_id", Str(source, "base_image_id")}},
                        tags);
}

absl::StatusOr<store::Resource> GetSnapshotForUse(store::Tx& tx, const Caller& caller,
                                                  const std::string& id) {
  ASSIGN_OR_RETURN(auto s, GetSnapshot(tx, caller, caller.region, id));
  if (Str(s, "state") != "completed") {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                    fmt::format("Snapshot '{}' is in the '{}' state, expected 'completed'.", s.id,
                                Str(s, "state")));
  }
  return s;
}

absl::StatusOr<json> CreateSnapshot(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                    const json& input) {
  ASSIGN_OR_RETURN(auto volume, GetVolume(tx, caller, input.value("VolumeId", "")));
  ASSIGN_OR_RETURN(auto tags,
                   TagsFromSpecifications(input.value("TagSpecifications", json()), "snapshot"));
  ASSIGN_OR_RETURN(auto s,
                   NewSnapshotOf(tx, caller, ids, volume, input.value("Description", ""), tags));
  ASSIGN_OR_RETURN(auto stored, tx.ListTags(caller.account_id, caller.region, s.id));
  return RenderSnapshot(s, stored);
}

absl::StatusOr<json> CreateSnapshots(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                     const json& input) {
  json spec = input.value("InstanceSpecification", json::object());
  ASSIGN_OR_RETURN(auto inst, GetInstance(tx, caller, spec.value("InstanceId", "")));
  bool exclude_boot = spec.value("ExcludeBootVolume", false);
  std::set<std::string> excluded;
  for (const auto& id : spec.value("ExcludeDataVolumeIds", json::array())) {
    excluded.insert(id.get<std::string>());
  }
  ASSIGN_OR_RETURN(auto tags,
                   TagsFromSpecifications(input.value("TagSpecifications", json()), "snapshot"));
  ASSIGN_OR_RETURN(auto volumes, VolumesOfInstance(tx, caller.account_id, caller.region, inst.id));
  bool copy_tags = input.value("CopyTagsFromSource", "") == "volume";
  json out = json::array();
  for (const auto& v : volumes) {
    if ((exclude_boot && v.data.value("root", false)) || excluded.count(v.id)) continue;
    std::vector<TagInput> these = tags;
    if (copy_tags) {
      ASSIGN_OR_RETURN(auto vtags, tx.ListTags(caller.account_id, caller.region, v.id));
      for (const auto& t : vtags) these.push_back({t.key, t.value});
    }
    ASSIGN_OR_RETURN(auto s,
                     NewSnapshotOf(tx, caller, ids, v, input.value("Description", ""), these));
    ASSIGN_OR_RETURN(auto stored, tx.ListTags(caller.account_id, caller.region, s.id));
    out.push_back({{"SnapshotId", s.id},
                   {"VolumeId", v.id},
                   {"VolumeSize", s.data.value("volume_size_gib", 0)},
                   {"State", "pending"},
                   {"StartTime", Iso(s.created_ms)},
                   {"Progress", "0%"},
                   {"OwnerId", s.account_id},
                   {"Description", Str(s, "description")},
                   {"Encrypted", false},
                   {"Tags", TagSetJson(stored)}});
  }
  return json{{"Snapshots", out}};
}

absl::StatusOr<json> CopySnapshot(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                  const json& input) {
  std::string region = input.value("SourceRegion", caller.region);
  ASSIGN_OR_RETURN(auto source,
                   GetSnapshot(tx, caller, region, input.value("SourceSnapshotId", "")));
  if (Str(source, "state") != "completed") {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                    fmt::format("Snapshot '{}' is not 'completed'.", source.id));
  }
  ASSIGN_OR_RETURN(auto tags,
                   TagsFromSpecifications(input.value("TagSpecifications", json()), "snapshot"));
  std::string description = input.value(
      "Description",
      fmt::format("[Copied {} from {}] {}", source.id, region, Str(source, "description")));
  ASSIGN_OR_RETURN(auto s, NewSnapshotCopy(tx, caller, ids, source, description, tags));
  ASSIGN_OR_RETURN(auto stored, tx.ListTags(caller.account_id, caller.region, s.id));
  return json{{"SnapshotId", s.id}, {"Tags", TagSetJson(stored)}};
}

absl::StatusOr<json> DeleteSnapshot(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto s, GetSnapshot(tx, caller, caller.region, input.value("SnapshotId", "")));
  ASSIGN_OR_RETURN(auto image, ImageUsingSnapshot(tx, caller, s.id));
  if (image) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidSnapshot.InUse",
                    fmt::format("The snapshot {} is currently in use by {}", s.id, *image));
  }
  // The file goes with the record: the reconciler removes snapshot files no record names, so a
  // crash between the two leaves nothing behind.
  ASSIGN_OR_RETURN(auto tags, tx.ListTags(caller.account_id, caller.region, s.id));
  for (const auto& t : tags)
    RETURN_IF_ERROR(tx.DeleteTag(caller.account_id, caller.region, s.id, t.key));
  if (Str(s, "state") == "completed") {
    RETURN_IF_ERROR(RecordMeterEvent(tx, s, "deleted", 0, UnixMillis(caller.now)));
  }
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, s.id));
  return json::object();
}

absl::StatusOr<json> DescribeSnapshots(store::Tx& tx, const Caller& caller, const json& input) {
  for (const auto& id : input.value("SnapshotIds", json::array())) {
    RETURN_IF_ERROR(GetSnapshot(tx, caller, caller.region, id.get<std::string>()).status());
  }
  // Snapshots are private to their account here (no CreateVolumePermission yet): an owner list
  // that names neither "self" nor the caller matches nothing.
  bool mine = true;
  if (input.contains("OwnerIds")) {
    mine = false;
    for (const auto& o : input["OwnerIds"]) {
      std::string owner = o.get<std::string>();
      if (owner == "self" || owner == caller.account_id) mine = true;
    }
  }
  DescribeSpec spec;
  spec.type = kSnapshotType;
  spec.ids_member = "SnapshotIds";
  spec.output_member = "Snapshots";
  for (const auto& [k, v] : SnapshotFields(store::Resource{})) spec.filter_names.insert(k);
  spec.fields = SnapshotFields;
  spec.render = RenderSnapshot;
  spec.not_found = SnapshotNotFound;
  spec.scope = [mine](const store::Resource&) { return mine; };
  return DescribeResources(tx, caller, input, spec);
}

}  // namespace kumo::services
