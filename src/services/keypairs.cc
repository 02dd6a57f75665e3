#include "services/keypairs.h"

#include <fmt/format.h>

#include <set>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/keypair.h"
#include "services/filters.h"
#include "services/tags.h"

namespace kumo::services {
namespace {

using nlohmann::json;

absl::Status ValidateKeyName(const std::string& name) {
  // EC2: "Up to 255 ASCII characters".
  bool ascii = !name.empty() && name.size() <= 255;
  for (unsigned char c : name) ascii = ascii && c >= 0x20 && c < 0x7f;
  if (!ascii) {
    return InvalidParameterValue(fmt::format(
        "Value ({}) for parameter keyName is invalid. Key names must be 1 to 255 printable ASCII "
        "characters",
        name));
  }
  return absl::OkStatus();
}

absl::Status KeyNameNotFound(std::string_view name) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidKeyPair.NotFound",
                  fmt::format("The key pair '{}' does not exist", name));
}

absl::Status KeyIdNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidKeyPair.NotFound",
                  fmt::format("The key pair ID '{}' does not exist", id));
}

json KeyPairInfo(const store::Resource& r, const std::vector<store::Tag>& tags,
                 bool include_public_key) {
  json k = {{"KeyPairId", r.id},
            {"KeyName", r.name},
            {"KeyFingerprint", r.data.value("fingerprint", "")},
            {"KeyType", r.data.value("key_type", "rsa")},
            {"CreateTime", FormatIso8601(FromUnixMillis(r.created_ms))},
            {"Tags", TagSetJson(tags)}};
  if (include_public_key) k["PublicKey"] = r.data.value("public_key", "");
  return k;
}

}  // namespace

absl::StatusOr<PreparedKeyPair> PrepareCreateKeyPair(const json& input) {
  PreparedKeyPair k;
  k.name = input.at("KeyName").get<std::string>();
  RETURN_IF_ERROR(ValidateKeyName(k.name));
  k.key_type = input.value("KeyType", "rsa");
  std::string format = input.value("KeyFormat", "pem");
  crypto::KeyType type =
      k.key_type == "ed25519" ? crypto::KeyType::kEd25519 : crypto::KeyType::kRsa;
  crypto::KeyFormat fmt = format == "ppk" ? crypto::KeyFormat::kPpk : crypto::KeyFormat::kPem;
  ASSIGN_OR_RETURN(crypto::GeneratedKeyPair g, crypto::GenerateKeyPair(type, fmt, k.name));
  k.public_key = std::move(g.public_openssh);
  k.fingerprint = std::move(g.fingerprint);
  k.private_key = std::move(g.private_key);
  return k;
}

absl::StatusOr<PreparedKeyPair> PrepareImportKeyPair(const json& input) {
  PreparedKeyPair k;
  k.name = input.at("KeyName").get<std::string>();
  RETURN_IF_ERROR(ValidateKeyName(k.name));
  // The model layer keeps blobs base64 (JSON strings cannot hold binary).
  auto material = Base64Decode(input.at("PublicKeyMaterial").get<std::string>());
  if (!material) return InvalidParameterValue("PublicKeyMaterial is not valid base64");
  auto imported = crypto::ImportPublicKey(*material);
  if (!imported.ok()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidKey.Format",
                    std::string(imported.status().message()));
  }
  k.key_type = std::string(crypto::KeyTypeName(imported->type));
  k.public_key = std::move(imported->public_openssh);
  k.fingerprint = std::move(imported->fingerprint);
  return k;
}

absl::StatusOr<json> StoreKeyPair(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                  const PreparedKeyPair& key, const json& input, bool imported) {
  ASSIGN_OR_RETURN(auto tags,
                   TagsFromSpecifications(input.value("TagSpecifications", json()), kKeyPairType));
  ASSIGN_OR_RETURN(auto existing,
                   tx.FindResourceByName(caller.account_id, caller.region, kKeyPairType, key.name));
  auto duplicate = Ec2Error(absl::StatusCode::kAlreadyExists, "InvalidKeyPair.Duplicate",
                            fmt::format("The keypair '{}' already exists.", key.name));
  if (existing) return duplicate;
  store::Resource r;
  r.id = ids.ResourceId("key");
  r.account_id = caller.account_id;
  r.region = caller.region;
  r.type = kKeyPairType;
  r.name = key.name;
  r.created_ms = UnixMillis(caller.now);
  r.data = {{"key_type", key.key_type},
            {"fingerprint", key.fingerprint},
            {"public_key", key.public_key},
            {"imported", imported}};
  if (absl::Status st = tx.InsertResource(r); !st.ok()) {
    // A concurrent create of the same name lost the race at the UNIQUE constraint.
    return absl::IsAlreadyExists(st) ? duplicate : st;
  }
  RETURN_IF_ERROR(ApplyTags(tx, caller, r.id, r.type, tags));
  json out = {{"KeyName", r.name}, {"KeyFingerprint", key.fingerprint}, {"KeyPairId", r.id}};
  if (!key.private_key.empty()) out["KeyMaterial"] = key.private_key;
  if (!tags.empty()) {
    json t = json::array();
    for (const auto& tag : tags) t.push_back({{"Key", tag.key}, {"Value", tag.value}});
    out["Tags"] = t;
  }
  return out;
}

absl::StatusOr<json> DescribeKeyPairs(store::Tx& tx, const Caller& caller, const json& input) {
  static const std::set<std::string, std::less<>> kNames = {"key-pair-id", "fingerprint",
                                                            "key-name", "key-type"};
  ASSIGN_OR_RETURN(FilterSet filters, FilterSet::Parse(input.value("Filters", json()), kNames));
  std::set<std::string> names, ids;
  for (const auto& n : input.value("KeyNames", json::array())) names.insert(n.get<std::string>());
  for (const auto& n : input.value("KeyPairIds", json::array())) ids.insert(n.get<std::string>());
  bool include_public_key = input.value("IncludePublicKey", false);

  ASSIGN_OR_RETURN(auto all, tx.ListResources(caller.account_id, caller.region, kKeyPairType));
  ASSIGN_OR_RETURN(auto tags, tx.ListTags(caller.account_id, caller.region, ""));
  std::map<std::string, std::vector<store::Tag>> tags_by_id;
  for (auto& t : tags) tags_by_id[t.resource_id].push_back(std::move(t));

  std::set<std::string> found_names, found_ids;
  json out = {{"KeyPairs", json::array()}};
  for (const auto& r : all) {
    if (!names.empty() && !names.count(r.name)) continue;
    if (!ids.empty() && !ids.count(r.id)) continue;
    found_names.insert(r.name);
    found_ids.insert(r.id);
    const auto& rtags = tags_by_id[r.id];
    FilterFields f = {{"key-pair-id", r.id},
                      {"key-name", r.name},
                      {"fingerprint", r.data.value("fingerprint", "")},
                      {"key-type", r.data.value("key_type", "")}};
    if (!filters.Matches(f, rtags)) continue;
    out["KeyPairs"].push_back(KeyPairInfo(r, rtags, include_public_key));
  }
  // Naming a key that does not exist is an error, as on EC2, even when others match.
  for (const auto& n : names) {
    if (!found_names.count(n)) return KeyNameNotFound(n);
  }
  for (const auto& id : ids) {
    if (!found_ids.count(id)) return KeyIdNotFound(id);
  }
  return out;
}

absl::StatusOr<json> DeleteKeyPair(store::Tx& tx, const Caller& caller, const json& input) {
  std::string name = input.value("KeyName", "");
  std::string id = input.value("KeyPairId", "");
  if (name.empty() && id.empty()) {
    return MissingParameter("The request must contain the parameter KeyName or KeyPairId");
  }
  std::optional<store::Resource> target;
  if (!id.empty()) {
    auto r = tx.GetResource(caller.account_id, caller.region, id);
    if (absl::IsNotFound(r.status()) || (r.ok() && r->type != kKeyPairType))
      return KeyIdNotFound(id);
    if (!r.ok()) return r.status();
    if (!name.empty() && r->name != name) {
      return InvalidParameterCombination("KeyName and KeyPairId name different key pairs");
    }
    target = std::move(*r);
  } else {
    ASSIGN_OR_RETURN(target,
                     tx.FindResourceByName(caller.account_id, caller.region, kKeyPairType, name));
  }
  json out = {{"Return", true}};
  // Deleting a key name that does not exist succeeds, as it does on EC2.
  if (!target) return out;
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, target->id));
  out["KeyPairId"] = target->id;
  return out;
}

absl::StatusOr<store::Resource> FindKeyPairByName(store::Tx& tx, const Caller& caller,
                                                  std::string_view name) {
  ASSIGN_OR_RETURN(auto r,
                   tx.FindResourceByName(caller.account_id, caller.region, kKeyPairType, name));
  if (!r) return KeyNameNotFound(name);
  return std::move(*r);
}

}  // namespace kumo::services
