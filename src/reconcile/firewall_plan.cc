#include "reconcile/firewall_plan.h"

#include <algorithm>
#include <set>

#include "reconcile/reconciler.h"

namespace kumo::reconcile {
namespace {

using nlohmann::json;

// States in which an instance has, or is about to get, a running container and its port.
bool HasPort(const store::Resource& r) {
  std::string s = r.data.value("state", "");
  return s == "pending" || s == "running" || s == "stopping" || s == "shutting-down";
}

std::vector<std::string> GroupIds(const store::Resource& r) {
  std::vector<std::string> out;
  for (const auto& g : r.data.value("groups", json::array())) out.push_back(g.value("id", ""));
  return out;
}

host::FirewallRule RuleOf(const json& j) {
  host::FirewallRule r;
  r.protocol = j.value("protocol", "-1");
  r.from = j.value("from", -1);
  r.to = j.value("to", -1);
  std::string group = j.value("group_id", "");
  if (group.empty()) {
    r.cidr = j.value("cidr", "");
  } else {
    r.peer_set = PeerSetName(group);
  }
  return r;
}

}  // namespace

std::string PeerSetName(const std::string& group_id) {
  std::string hex = group_id.rfind("sg-", 0) == 0 ? group_id.substr(3) : group_id;
  return "g" + hex;
}

std::map<std::string, host::VpcFirewall> PlanFirewalls(
    const std::vector<store::Resource>& instances, const std::vector<store::Resource>& groups,
    const std::vector<store::Resource>& interfaces,
    const std::map<std::string, host::VpcNet>* vpc_nets) {
  std::map<std::string, const store::Resource*> group_by_id;
  for (const auto& g : groups) group_by_id[g.id] = &g;

  std::map<std::string, host::VpcFirewall> plans;
  // Members first: a rule may name a group whose members are in another instance's port.
  std::map<std::string, std::set<std::string>> members;  // group id → private addresses
  // Attached interfaces are ports of their instance's VPC, with their own groups.
  std::map<std::string, const store::Resource*> instance_by_id;
  for (const auto& r : instances) instance_by_id[r.id] = &r;
  std::vector<std::pair<const store::Resource*, const store::Resource*>> ports;  // (port, inst)
  for (const auto& r : instances) {
    if (HasPort(r)) ports.push_back({&r, &r});
  }
  for (const auto& e : interfaces) {
    json a = e.data.value("attachment", json());
    if (!a.is_object()) continue;
    auto it = instance_by_id.find(a.value("instance_id", ""));
    if (it != instance_by_id.end() && HasPort(*it->second)) ports.push_back({&e, it->second});
  }
  for (const auto& [r, owner] : ports) {
    for (const auto& g : GroupIds(*r)) {
      members[g].insert(r->data.value("private_ip", ""));
      for (const auto& ip : r->data.value("secondary_ips", json::array())) {
        members[g].insert(ip.get<std::string>());
      }
    }
  }
  for (const auto& [r, owner] : ports) {
    host::InstanceSpec spec = SpecOf(*owner);
    host::VpcFirewall& fw = plans[spec.vpc.vpc_id];
    if (fw.vpc.vpc_id.empty()) {
      // The VPC as it is now when known (its blocks and subnets may have grown since launch).
      fw.vpc = spec.vpc;
      if (vpc_nets) {
        if (auto net = vpc_nets->find(spec.vpc.vpc_id); net != vpc_nets->end()) {
          fw.vpc = net->second;
        }
      }
    }
    host::PortFirewall port{r->id,
                            r->data.value("mac", ""),
                            r->data.value("private_ip", ""),
                            {},
                            {},
                            r->data.value("secondary_ips", std::vector<std::string>{}),
                            r->data.value("source_dest_check", true)};
    for (const auto& gid : GroupIds(*r)) {
      auto it = group_by_id.find(gid);
      // A group deleted under a running instance (not possible through the API) allows nothing.
      if (it == group_by_id.end()) continue;
      for (bool egress : {false, true}) {
        auto& into = egress ? port.egress : port.ingress;
        for (const auto& j : it->second->data.value(egress ? "egress" : "ingress", json::array())) {
          host::FirewallRule rule = RuleOf(j);
          if (!rule.peer_set.empty()) {
            const auto& m = members[j.value("group_id", "")];
            fw.peer_sets[rule.peer_set].assign(m.begin(), m.end());
          }
          into.push_back(std::move(rule));
        }
      }
    }
    fw.ports.push_back(std::move(port));
  }
  return plans;
}

}  // namespace kumo::reconcile
