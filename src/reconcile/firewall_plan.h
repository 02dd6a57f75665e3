// What the firewall of each VPC must be, computed from the store: every instance that has (or
// is about to have) a container gets a port with the union of its groups' rules, and every group
// a rule names as its peer becomes a set of its members' current private addresses, so source
// group rules follow membership as instances come, go and change groups.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "host/network/network.h"
#include "store/store.h"

namespace kumo::reconcile {

// Keyed by VPC id; only VPCs with at least one such instance.
// interfaces: network interfaces (services/addresses.h), ports of the instances they are
// attached to.
std::map<std::string, host::VpcFirewall> PlanFirewalls(
    const std::vector<store::Resource>& instances, const std::vector<store::Resource>& groups,
    const std::vector<store::Resource>& interfaces = {},
    const std::map<std::string, host::VpcNet>* vpc_nets = nullptr);

// The peer set a source group's members go in.
std::string PeerSetName(const std::string& group_id);

}  // namespace kumo::reconcile
