#include "services/security_groups.h"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <set>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/instances.h"
#include "services/pagination.h"
#include "services/tags.h"
#include "services/vpcs.h"

namespace kumo::services {
namespace {

using nlohmann::json;

struct Rule {
  std::string id;
  std::string protocol;  // "tcp" | "udp" | "icmp" | "-1"
  int from = -1;
  int to = -1;
  std::string cidr;
  std::string group_id;
  std::string group_owner;
  std::string description;

  std::string Key() const {
    return fmt::format("{}|{}|{}|{}|{}", protocol, from, to, cidr, group_id);
  }
  json ToJson() const {
    return {{"id", id},
            {"protocol", protocol},
            {"from", from},
            {"to", to},
            {"cidr", cidr},
            {"group_id", group_id},
            {"group_owner", group_owner},
            {"description", description}};
  }
  static Rule FromJson(const json& j) {
    return Rule{j.value("id", ""),          j.value("protocol", "-1"), j.value("from", -1),
                j.value("to", -1),          j.value("cidr", ""),       j.value("group_id", ""),
                j.value("group_owner", ""), j.value("description", "")};
  }
  // EC2's own wording for a rule in error messages.
  std::string Describe() const {
    std::string proto = protocol == "-1" ? "ALL" : protocol;
    for (auto& c : proto) c = char(std::toupper(static_cast<unsigned char>(c)));
    return fmt::format("peer: {}, {}, from port: {}, to port: {}, ALLOW",
                       cidr.empty() ? group_id : cidr, proto, from, to);
  }
};

const char* Direction(bool egress) { return egress ? "egress" : "ingress"; }

std::vector<Rule> RulesOf(const store::Resource& g, bool egress) {
  std::vector<Rule> out;
  for (const auto& j : g.data.value(Direction(egress), json::array()))
    out.push_back(Rule::FromJson(j));
  return out;
}

void SetRules(store::Resource& g, bool egress, const std::vector<Rule>& rules) {
  json arr = json::array();
  for (const auto& r : rules) arr.push_back(r.ToJson());
  g.data[Direction(egress)] = arr;
}

bool ValidCidr(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) return false;
  auto num = [](std::string_view part, int max) {
    int v = -1;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    return (ec == std::errc() && p == part.data() + part.size() && !part.empty() && v <= max) ? v
                                                                                              : -1;
  };
  if (num(std::string_view(s).substr(slash + 1), 32) < 0) return false;
  std::string_view ip = std::string_view(s).substr(0, slash);
  int parts = 0;
  size_t start = 0;
  while (true) {
    size_t dot = ip.find('.', start);
    if (num(ip.substr(start, dot == std::string_view::npos ? dot : dot - start), 255) < 0) {
      return false;
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

absl::StatusOr<std::string> NormalizeProtocol(std::string p) {
  for (auto& c : p) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (p == "tcp" || p == "6") return std::string("tcp");
  if (p == "udp" || p == "17") return std::string("udp");
  if (p == "icmp" || p == "1") return std::string("icmp");
  if (p == "-1" || p == "all") return std::string("-1");
  return InvalidParameterValue(
      fmt::format("Invalid value '{}' for IP protocol. Unknown protocol.", p));
}

absl::Status GroupNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidGroup.NotFound",
                  fmt::format("The security group '{}' does not exist", id));
}

absl::Status Malformed(std::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidPermission.Malformed", message);
}

// IpPermissions, or the flat IpProtocol/FromPort/ToPort/CidrIp/SourceSecurityGroupName form the
// aws CLI sends for --protocol/--port/--cidr/--source-group, as rules without ids.
absl::StatusOr<std::vector<Rule>> ExpandPermissions(store::Tx& tx, const Caller& caller,
                                                    const json& input, const std::string& vpc_id) {
  json perms = input.value("IpPermissions", json::array());
  if (input.contains("IpProtocol")) {
    json p = {{"IpProtocol", input["IpProtocol"]}};
    if (input.contains("FromPort")) p["FromPort"] = input["FromPort"];
    if (input.contains("ToPort")) p["ToPort"] = input["ToPort"];
    if (input.contains("CidrIp")) p["IpRanges"] = {{{"CidrIp", input["CidrIp"]}}};
    if (input.contains("SourceSecurityGroupName")) {
      json pair = {{"GroupName", input["SourceSecurityGroupName"]}};
      if (input.contains("SourceSecurityGroupOwnerId")) {
        pair["UserId"] = input["SourceSecurityGroupOwnerId"];
      }
      p["UserIdGroupPairs"] = {pair};
    }
    perms.push_back(p);
  } else if (input.contains("CidrIp") || input.contains("SourceSecurityGroupName")) {
    return MissingParameter("The request must contain the parameter IpProtocol");
  }
  if (perms.empty())
    return MissingParameter("The request must contain the parameter IpPermissions");
  std::vector<Rule> out;
  for (const auto& p : perms) {
    Rule base;
    ASSIGN_OR_RETURN(base.protocol, NormalizeProtocol(p.value("IpProtocol", "")));
    bool has_from = p.contains("FromPort"), has_to = p.contains("ToPort");
    int from = has_from ? p["FromPort"].get<int>() : -1;
    int to = has_to ? p["ToPort"].get<int>() : -1;
    if (base.protocol == "tcp" || base.protocol == "udp") {
      if (!has_from || !has_to) {
        return InvalidParameterValue(
            "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.");
      }
      if (from < 0 || to > 65535 || from > to) {
        return InvalidParameterValue(fmt::format(
            "Invalid value for portRange. Ports must be 0-65535 with from <= to, got {}-{}", from,
            to));
      }
    } else if (base.protocol == "icmp") {
      if (from < -1 || from > 255 || to < -1 || to > 255) {
        return InvalidParameterValue("ICMP type and code must be -1 or 0-255");
      }
    } else {
      from = to = -1;
    }
    base.from = from;
    base.to = to;
    if (!p.value("Ipv6Ranges", json::array()).empty() ||
        !p.value("PrefixListIds", json::array()).empty()) {
      return InvalidParameterValue(
          "Kumo does not support IPv6 ranges or prefix lists in rules yet");
    }
    size_t before = out.size();
    for (const auto& range : p.value("IpRanges", json::array())) {
      Rule r = base;
      r.cidr = range.value("CidrIp", "");
      if (!ValidCidr(r.cidr)) {
        return InvalidParameterValue(fmt::format("CIDR block {} is malformed", r.cidr));
      }
      r.description = range.value("Description", "");
      out.push_back(std::move(r));
    }
    for (const auto& pair : p.value("UserIdGroupPairs", json::array())) {
      Rule r = base;
      std::string user = pair.value("UserId", caller.account_id);
      if (user != caller.account_id) {
        return GroupNotFound(pair.value("GroupId", pair.value("GroupName", "")));
      }
      std::string gid = pair.value("GroupId", "");
      auto g = gid.empty() ? FindSecurityGroup(tx, caller, pair.value("GroupName", ""), true)
                           : FindSecurityGroup(tx, caller, gid, false);
      if (!g.ok()) return g.status();
      // Without VPC peering a rule can only name groups of its own VPC, as on EC2.
      if (g->data.value("vpc_id", "") != vpc_id) {
        return InvalidParameterValue(fmt::format(
            "Security group {} and the source group {} belong to different VPCs", vpc_id, g->id));
      }
      r.group_id = g->id;
      r.group_owner = caller.account_id;
      r.description = pair.value("Description", "");
      out.push_back(std::move(r));
    }
    if (out.size() == before) return Malformed("Each permission needs a CIDR range or a group");
  }
  for (const auto& r : out) {
    if (r.description.size() > 255) {
      return InvalidParameterValue("Rule descriptions are at most 255 characters");
    }
  }
  return out;
}

absl::StatusOr<store::Resource> TargetGroup(store::Tx& tx, const Caller& caller, const json& input,
                                            bool require_id) {
  std::string id = input.value("GroupId", "");
  if (!id.empty()) return FindSecurityGroup(tx, caller, id, false);
  std::string name = input.value("GroupName", "");
  if (name.empty() || require_id) {
    return MissingParameter("The request must contain the parameter GroupId");
  }
  return FindSecurityGroup(tx, caller, name, true);
}

json RenderRule(const Rule& r, const store::Resource& g, bool egress) {
  json j = {{"SecurityGroupRuleId", r.id},
            {"GroupId", g.id},
            {"GroupOwnerId", g.account_id},
            {"IsEgress", egress},
            {"IpProtocol", r.protocol},
            {"FromPort", r.from},
            {"ToPort", r.to},
            {"Tags", json::array()}};
  if (!r.cidr.empty()) j["CidrIpv4"] = r.cidr;
  if (!r.group_id.empty()) {
    j["ReferencedGroupInfo"] = {{"GroupId", r.group_id}, {"UserId", r.group_owner}};
  }
  if (!r.description.empty()) j["Description"] = r.description;
  return j;
}

// IpPermissions as EC2 shows them: one entry per (protocol, ports) with all its peers.
json RenderPermissions(const std::vector<Rule>& rules) {
  std::map<std::tuple<std::string, int, int>, json> grouped;
  std::vector<std::tuple<std::string, int, int>> order;
  for (const auto& r : rules) {
    auto key = std::make_tuple(r.protocol, r.from, r.to);
    if (!grouped.count(key)) {
      json p = {{"IpProtocol", r.protocol},
                {"IpRanges", json::array()},
                {"Ipv6Ranges", json::array()},
                {"PrefixListIds", json::array()},
                {"UserIdGroupPairs", json::array()}};
      if (r.protocol != "-1") {
        p["FromPort"] = r.from;
        p["ToPort"] = r.to;
      }
      grouped[key] = p;
      order.push_back(key);
    }
    json& p = grouped[key];
    if (!r.cidr.empty()) {
      json range = {{"CidrIp", r.cidr}};
      if (!r.description.empty()) range["Description"] = r.description;
      p["IpRanges"].push_back(range);
    } else {
      json pair = {{"GroupId", r.group_id}, {"UserId", r.group_owner}};
      if (!r.description.empty()) pair["Description"] = r.description;
      p["UserIdGroupPairs"].push_back(pair);
    }
  }
  json out = json::array();
  for (const auto& key : order) out.push_back(grouped[key]);
  return out;
}

void AddRuleFields(FilterFields& f, const std::vector<Rule>& rules, const std::string& prefix) {
  for (const auto& r : rules) {
    f.emplace(prefix + "protocol", r.protocol);
    f.emplace(prefix + "from-port", std::to_string(r.from));
    f.emplace(prefix + "to-port", std::to_string(r.to));
    if (!r.cidr.empty()) f.emplace(prefix + "cidr", r.cidr);
    if (!r.group_id.empty()) f.emplace(prefix + "group-id", r.group_id);
  }
}

std::string StoredName(const std::string& vpc_id, const std::string& group_name) {
  return vpc_id + ":" + group_name;
}

absl::StatusOr<store::Resource> InsertGroup(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                            const std::string& vpc_id, const std::string& name,
                                            const std::string& description, bool is_default) {
  store::Resource g{ids.ResourceId("sg"),
                    caller.account_id,
                    caller.region,
                    std::string(kSecurityGroupType),
                    StoredName(vpc_id, name),
                    json::object(),
                    0,
                    UnixMillis(caller.now)};
  g.data = {{"group_name", name},
            {"description", description},
            {"vpc_id", vpc_id},
            {"is_default", is_default}};
  std::vector<Rule> egress = {Rule{ids.ResourceId("sgr"), "-1", -1, -1, "0.0.0.0/0", "", "", ""}};
  std::vector<Rule> ingress;
  if (is_default) {
    ingress.push_back(Rule{ids.ResourceId("sgr"), "-1", -1, -1, "", g.id, caller.account_id, ""});
  }
  SetRules(g, false, ingress);
  SetRules(g, true, egress);
  absl::Status st = tx.InsertResource(g);
  if (absl::IsAlreadyExists(st)) {
    return Ec2Error(
        absl::StatusCode::kAlreadyExists, "InvalidGroup.Duplicate",
        fmt::format("The security group '{}' already exists for VPC '{}'", name, vpc_id));
  }
  RETURN_IF_ERROR(st);
  return g;
}

}  // namespace

absl::StatusOr<store::Resource> FindSecurityGroup(store::Tx& tx, const Caller& caller,
                                                  const std::string& id_or_name, bool by_name) {
  if (!by_name) {
    auto g = tx.GetResource(caller.account_id, caller.region, id_or_name);
    if (absl::IsNotFound(g.status()) || (g.ok() && g->type != kSecurityGroupType)) {
      return GroupNotFound(id_or_name);
    }
    return g;
  }
  ASSIGN_OR_RETURN(std::string vpc_id, DefaultVpcId(tx, caller));
  ASSIGN_OR_RETURN(auto g,
                   tx.FindResourceByName(caller.account_id, caller.region, kSecurityGroupType,
                                         StoredName(vpc_id, id_or_name)));
  if (!g) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidGroup.NotFound",
                    fmt::format("The security group '{}' does not exist in default VPC '{}'",
                                id_or_name, vpc_id));
  }
  return std::move(*g);
}

absl::StatusOr<store::Resource> VpcDefaultSecurityGroup(store::Tx& tx, const Caller& caller,
                                                        const std::string& vpc_id) {
  ASSIGN_OR_RETURN(auto g,
                   tx.FindResourceByName(caller.account_id, caller.region, kSecurityGroupType,
                                         StoredName(vpc_id, "default")));
  if (!g) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidGroup.NotFound",
                    fmt::format("The security group 'default' does not exist in VPC '{}'", vpc_id));
  }
  return std::move(*g);
}

absl::Status CreateDefaultSecurityGroup(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                        const std::string& vpc_id) {
  return InsertGroup(tx, caller, ids, vpc_id, "default", "default VPC security group", true)
      .status();
}

absl::StatusOr<json> CreateSecurityGroup(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                         const json& input) {
  std::string name = input.at("GroupName").get<std::string>();
  std::string description = input.at("Description").get<std::string>();
  if (name.empty() || name.size() > 255 || name.rfind("sg-", 0) == 0) {
    return InvalidParameterValue(fmt::format(
        "Value ({}) for parameter GroupName is invalid. Group names are 1 to 255 characters and "
        "may not start with sg-",
        name));
  }
  if (name == "default") {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidGroup.Reserved",
                    "The security group 'default' is reserved");
  }
  static constexpr std::string_view kDescriptionChars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-:/()#,@[]+=&;{}!$*";
  if (description.empty() || description.size() > 255 ||
      description.find_first_not_of(kDescriptionChars) != std::string::npos) {
    return InvalidParameterValue(
        "Invalid value for GroupDescription: 1 to 255 characters of a-z, A-Z, 0-9, spaces and "
        "._-:/()#,@[]+=&;{}!$*");
  }
  ASSIGN_OR_RETURN(auto tags, TagsFromSpecifications(input.value("TagSpecifications", json()),
                                                     kSecurityGroupType));
  std::string vpc_id = input.value("VpcId", "");
  if (vpc_id.empty()) {
    ASSIGN_OR_RETURN(vpc_id, DefaultVpcId(tx, caller));
  } else {
    auto vpc = tx.GetResource(caller.account_id, caller.region, vpc_id);
    if (!vpc.ok() || vpc->type != kVpcType) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidVpcID.NotFound",
                      fmt::format("The vpc ID '{}' does not exist", vpc_id));
    }
  }
  ASSIGN_OR_RETURN(auto g, InsertGroup(tx, caller, ids, vpc_id, name, description, false));
  RETURN_IF_ERROR(ApplyTags(tx, caller, g.id, g.type, tags));
  json out = {{"GroupId", g.id}};
  if (!tags.empty()) {
    json t = json::array();
    for (const auto& tag : tags) t.push_back({{"Key", tag.key}, {"Value", tag.value}});
    out["Tags"] = t;
  }
  return out;
}

absl::StatusOr<json> DeleteSecurityGroup(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource g, TargetGroup(tx, caller, input, false));
  if (g.data.value("is_default", false)) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "CannotDelete",
                    fmt::format("the specified group: \"{}\" name: \"default\" cannot be deleted "
                                "by a user",
                                g.id));
  }
  ASSIGN_OR_RETURN(auto groups,
                   tx.ListResources(caller.account_id, caller.region, kSecurityGroupType));
  for (const auto& other : groups) {
    if (other.id == g.id) continue;
    for (bool egress : {false, true}) {
      for (const auto& r : RulesOf(other, egress)) {
        if (r.group_id == g.id) {
          return Ec2Error(absl::StatusCode::kFailedPrecondition, "DependencyViolation",
                          fmt::format("resource {} has a dependent object", g.id));
        }
      }
    }
  }
  ASSIGN_OR_RETURN(bool in_use, GroupInUse(tx, caller, g.id));
  if (in_use) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "DependencyViolation",
                    fmt::format("resource {} has a dependent object", g.id));
  }
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, g.id));
  return json{{"Return", true}, {"GroupId", g.id}};
}

absl::StatusOr<json> AuthorizeSecurityGroupRules(store::Tx& tx, const Caller& caller,
                                                 IdGenerator& ids, const json& input, bool egress) {
  ASSIGN_OR_RETURN(store::Resource g, TargetGroup(tx, caller, input, egress));
  ASSIGN_OR_RETURN(std::vector<Rule> added,
                   ExpandPermissions(tx, caller, input, g.data.value("vpc_id", "")));
  std::vector<Rule> rules = RulesOf(g, egress);
  std::set<std::string> keys;
  for (const auto& r : rules) keys.insert(r.Key());
  for (auto& r : added) {
    if (!keys.insert(r.Key()).second) {
      return Ec2Error(absl::StatusCode::kAlreadyExists, "InvalidPermission.Duplicate",
                      fmt::format("the specified rule \"{}\" already exists", r.Describe()));
    }
    r.id = ids.ResourceId("sgr");
  }
  if (rules.size() + added.size() > kMaxRulesPerDirection) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "RulesPerSecurityGroupLimitExceeded",
                    fmt::format("The maximum number of rules per security group has been "
                                "reached ({} {} rules)",
                                kMaxRulesPerDirection, Direction(egress)));
  }
  rules.insert(rules.end(), added.begin(), added.end());
  SetRules(g, egress, rules);
  RETURN_IF_ERROR(tx.UpdateResource(g));
  json out = {{"Return", true}, {"SecurityGroupRules", json::array()}};
  for (const auto& r : added) out["SecurityGroupRules"].push_back(RenderRule(r, g, egress));
  return out;
}

absl::StatusOr<json> RevokeSecurityGroupRules(store::Tx& tx, const Caller& caller,
                                              const json& input, bool egress) {
  ASSIGN_OR_RETURN(store::Resource g, TargetGroup(tx, caller, input, egress));
  std::vector<Rule> rules = RulesOf(g, egress);
  std::vector<Rule> kept;
  json unknown = json::array();
  size_t removed = 0;
  if (input.contains("SecurityGroupRuleIds")) {
    std::set<std::string> ids;
    for (const auto& id : input["SecurityGroupRuleIds"]) ids.insert(id.get<std::string>());
    for (const auto& r : rules) {
      if (ids.erase(r.id)) {
        ++removed;
      } else {
        kept.push_back(r);
      }
    }
    if (!ids.empty()) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidSecurityGroupRuleId.NotFound",
                      fmt::format("The security group rule ID '{}' does not exist", *ids.begin()));
    }
  } else {
    ASSIGN_OR_RETURN(std::vector<Rule> targets,
                     ExpandPermissions(tx, caller, input, g.data.value("vpc_id", "")));
    std::set<std::string> wanted;
    for (const auto& t : targets) wanted.insert(t.Key());
    for (const auto& r : rules) {
      if (wanted.erase(r.Key())) {
        ++removed;
      } else {
        kept.push_back(r);
      }
    }
    for (const auto& t : targets) {
      if (wanted.count(t.Key())) unknown.push_back(RenderPermissions({t})[0]);
    }
    if (removed == 0) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidPermission.NotFound",
                      "The specified rule does not exist in this security group.");
    }
  }
  SetRules(g, egress, kept);
  RETURN_IF_ERROR(tx.UpdateResource(g));
  json out = {{"Return", true}};
  if (!unknown.empty()) out["UnknownIpPermissions"] = unknown;
  return out;
}

absl::StatusOr<json> ModifySecurityGroupRules(store::Tx& tx, const Caller& caller,
                                              const json& input) {
  ASSIGN_OR_RETURN(store::Resource g, TargetGroup(tx, caller, input, true));
  std::vector<Rule> rules[2] = {RulesOf(g, false), RulesOf(g, true)};
  for (const auto& update : input.value("SecurityGroupRules", json::array())) {
    std::string id = update.value("SecurityGroupRuleId", "");
    const json want = update.value("SecurityGroupRule", json::object());
    int dir = -1;
    size_t at = 0;
    for (int d = 0; d < 2 && dir < 0; ++d) {
      for (size_t i = 0; i < rules[d].size(); ++i) {
        if (rules[d][i].id == id) {
          dir = d;
          at = i;
        }
      }
    }
    if (dir < 0) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidSecurityGroupRuleId.NotFound",
                      fmt::format("The security group rule ID '{}' does not exist", id));
    }
    // The replacement is validated exactly as Authorize would validate it.
    if (want.contains("CidrIpv4") == want.contains("ReferencedGroupId")) {
      return Malformed("A rule needs exactly one of CidrIpv4 and ReferencedGroupId");
    }
    json permission = {{"IpProtocol", want.value("IpProtocol", "")}};
    if (want.contains("FromPort")) permission["FromPort"] = want["FromPort"];
    if (want.contains("ToPort")) permission["ToPort"] = want["ToPort"];
    std::string description = want.value("Description", "");
    if (want.contains("CidrIpv4")) {
      permission["IpRanges"] = {{{"CidrIp", want["CidrIpv4"]}, {"Description", description}}};
    } else {
      permission["UserIdGroupPairs"] = {
          {{"GroupId", want["ReferencedGroupId"]}, {"Description", description}}};
    }
    ASSIGN_OR_RETURN(std::vector<Rule> parsed,
                     ExpandPermissions(tx, caller, {{"IpPermissions", {permission}}},
                                       g.data.value("vpc_id", "")));
    Rule replacement = parsed.at(0);
    replacement.id = id;
    for (size_t i = 0; i < rules[dir].size(); ++i) {
      if (i != at && rules[dir][i].Key() == replacement.Key()) {
        return Ec2Error(
            absl::StatusCode::kAlreadyExists, "InvalidPermission.Duplicate",
            fmt::format("the specified rule \"{}\" already exists", replacement.Describe()));
      }
    }
    rules[dir][at] = replacement;
  }
  SetRules(g, false, rules[0]);
  SetRules(g, true, rules[1]);
  RETURN_IF_ERROR(tx.UpdateResource(g));
  return json{{"Return", true}};
}

absl::StatusOr<json> DescribeSecurityGroups(store::Tx& tx, const Caller& caller,
                                            const json& input) {
  std::set<std::string> names;  // ids of the groups named
  for (const auto& n : input.value("GroupNames", json::array())) {
    // A missing name is an error even when filters would have hidden it.
    ASSIGN_OR_RETURN(auto g, FindSecurityGroup(tx, caller, n.get<std::string>(), true));
    names.insert(g.id);
  }
  DescribeSpec spec;
  spec.type = kSecurityGroupType;
  spec.ids_member = "GroupIds";
  spec.output_member = "SecurityGroups";
  spec.filter_names = {"group-id",
                       "group-name",
                       "description",
                       "vpc-id",
                       "owner-id",
                       "ip-permission.protocol",
                       "ip-permission.from-port",
                       "ip-permission.to-port",
                       "ip-permission.cidr",
                       "ip-permission.group-id",
                       "egress.ip-permission.protocol",
                       "egress.ip-permission.from-port",
                       "egress.ip-permission.to-port",
                       "egress.ip-permission.cidr",
                       "egress.ip-permission.group-id"};
  spec.not_found = GroupNotFound;
  if (!names.empty()) {
    // Names and ids together select the union of both, as on EC2; ids are checked here since
    // the generic id filter would intersect instead.
    std::set<std::string> ids;
    for (const auto& id : input.value("GroupIds", json::array())) {
      ASSIGN_OR_RETURN(auto g, FindSecurityGroup(tx, caller, id.get<std::string>(), false));
      ids.insert(g.id);
    }
    spec.ids_member = "";
    spec.scope = [names, ids](const store::Resource& r) {
      return names.count(r.id) > 0 || ids.count(r.id) > 0;
    };
  }
  spec.fields = [](const store::Resource& r) {
    FilterFields f = {{"group-id", r.id},
                      {"group-name", r.data.value("group_name", "")},
                      {"description", r.data.value("description", "")},
                      {"vpc-id", r.data.value("vpc_id", "")},
                      {"owner-id", r.account_id}};
    AddRuleFields(f, RulesOf(r, false), "ip-permission.");
    AddRuleFields(f, RulesOf(r, true), "egress.ip-permission.");
    return f;
  };
  spec.render = [](const store::Resource& r, const std::vector<store::Tag>& tags) {
    return json{{"GroupId", r.id},
                {"GroupName", r.data.value("group_name", "")},
                {"Description", r.data.value("description", "")},
                {"VpcId", r.data.value("vpc_id", "")},
                {"OwnerId", r.account_id},
                {"IpPermissions", RenderPermissions(RulesOf(r, false))},
                {"IpPermissionsEgress", RenderPermissions(RulesOf(r, true))},
                {"Tags", TagSetJson(tags)}};
  };
  return DescribeResources(tx, caller, input, spec);
}

absl::StatusOr<json> DescribeSecurityGroupRules(store::Tx& tx, const Caller& caller,
                                                const json& input) {
  static const std::set<std::string, std::less<>> kNames = {"group-id", "security-group-rule-id"};
  ASSIGN_OR_RETURN(FilterSet filters, FilterSet::Parse(input.value("Filters", json()), kNames));
  std::set<std::string> ids;
  for (const auto& id : input.value("SecurityGroupRuleIds", json::array())) {
    ids.insert(id.get<std::string>());
  }
  ASSIGN_OR_RETURN(PageRequest page_req, ParsePageRequest(input, 1, INT32_MAX));
  ASSIGN_OR_RETURN(PageBounds bounds, DecodePage(page_req));
  ASSIGN_OR_RETURN(auto groups,
                   tx.ListResources(caller.account_id, caller.region, kSecurityGroupType));
  std::vector<json> rendered;
  std::set<std::string> found;
  for (const auto& g : groups) {
    for (bool egress : {false, true}) {
      for (const auto& r : RulesOf(g, egress)) {
        if (!ids.empty() && !ids.count(r.id)) continue;
        found.insert(r.id);
        if (!filters.Matches({{"group-id", g.id}, {"security-group-rule-id", r.id}}, {})) continue;
        rendered.push_back(RenderRule(r, g, egress));
      }
    }
  }
  for (const auto& id : ids) {
    if (!found.count(id)) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidSecurityGroupRuleId.NotFound",
                      fmt::format("The security group rule ID '{}' does not exist", id));
    }
  }
  std::sort(rendered.begin(), rendered.end(), [](const json& a, const json& b) {
    return a["SecurityGroupRuleId"].get<std::string>() <
           b["SecurityGroupRuleId"].get<std::string>();
  });
  std::string next;
  auto page = TakePage(
      std::move(rendered), bounds,
      [](const json& j) { return j["SecurityGroupRuleId"].get<std::string>(); }, &next);
  json out = {{"SecurityGroupRules", page}};
  if (!next.empty()) out["NextToken"] = next;
  return out;
}

}  // namespace kumo::services
