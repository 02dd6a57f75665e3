// Elastic IP addresses: an account's claim on one of the host's public addresses, kept until it
// releases it, that it can point at any of its instances, interfaces or their secondary private
// addresses, and move.
//
// An Elastic IP is a store::Resource of type "elastic-ip" (id eipalloc-…, named by its address)
// whose data holds {"public_ip", "instance_id", "association_id", "network_interface_id",
// "private_ip"} (the association fields empty while idle). The address itself is claimed in the
// operator's "public-ip" rows, like an instance's automatic address, with {"allocation_id"}.
// The instance it is associated with carries {"public_ip": the address, "eip_allocation_id"}:
// what the reconciler publishes, and what stop keeps (EC2 keeps an Elastic IP on a stopped
// instance; an automatic address goes). An Elastic IP on any other private address (a secondary
// one, a created interface's) lives on its own row only: instance_id is the instance the
// interface is attached to ("" while it is not), which the reconciler publishes it for.
//
// Meter events (tenant, allocation id): "address-allocated", "address-associated",
// "address-disassociated", "address-released", each with {"public_ip"}: EC2 bills every public
// IPv4 address by the hour, and an idle Elastic IP is what the ledger can tell from them.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "services/caller.h"
#include "services/instances.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kAddressType = "elastic-ip";
// Per account and region, as DescribeAccountAttributes' max-elastic-ips says (EC2's default).
inline constexpr int kMaxElasticIps = 5;

absl::StatusOr<nlohmann::json> AllocateAddress(store::Tx& tx, const Caller& caller,
                                               IdGenerator& ids, const InstanceEnv& env,
                                               const nlohmann::json& input);
absl::StatusOr<nlohmann::json> AssociateAddress(store::Tx& tx, const Caller& caller,
                                                IdGenerator& ids, const InstanceEnv& env,
                                                const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DisassociateAddress(store::Tx& tx, const Caller& caller,
                                                   const InstanceEnv& env,
                                                   const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ReleaseAddress(store::Tx& tx, const Caller& caller,
                                              const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeAddresses(store::Tx& tx, const Caller& caller,
                                                 const nlohmann::json& input);

// Network interfaces (network_interfaces.cc). Rows of type "network-interface" (eni-…):
// {"subnet_id", "vpc_id", "availability_zone", "private_ip", "prefix_len", "gateway", "mac",
// "groups": [{"id", "name"}], "description", "source_dest_check", "attachment": null |
// {"instance_id", "device_index", "attachment_id", "attach_ms", "delete_on_termination"}}.
inline constexpr std::string_view kNetworkInterfaceType = "network-interface";
// Device indexes 0 (the primary interface) to 7, as EC2's smaller types allow.
inline constexpr int64_t kMaxInterfacesPerInstance = 8;
absl::StatusOr<nlohmann::json> CreateNetworkInterface(store::Tx& tx, const Caller& caller,
                                                      IdGenerator& ids,
                                                      const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteNetworkInterface(store::Tx& tx, const Caller& caller,
                                                      const nlohmann::json& input);
absl::StatusOr<nlohmann::json> AttachNetworkInterface(store::Tx& tx, const Caller& caller,
                                                      IdGenerator& ids,
                                                      const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DetachNetworkInterface(store::Tx& tx, const Caller& caller,
                                                      const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ModifyNetworkInterfaceAttribute(store::Tx& tx, const Caller& caller,
                                                               const InstanceEnv& env,
                                                               const nlohmann::json& input);
// One attribute (description, groupSet, sourceDestCheck, attachment) as DescribeNetworkInterfaces
// shows it; ResetNetworkInterfaceAttribute turns the source/destination check back on.
absl::StatusOr<nlohmann::json> DescribeNetworkInterfaceAttribute(store::Tx& tx,
                                                                 const Caller& caller,
                                                                 const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ResetNetworkInterfaceAttribute(store::Tx& tx, const Caller& caller,
                                                              const InstanceEnv& env,
                                                              const nlohmann::json& input);
// Secondary private addresses of an interface (the primary one's are the instance's), from its
// subnet; the instance's OS configures them, as on EC2, and the firewall lets them through.
inline constexpr int64_t kMaxSecondaryIps = 9;
absl::StatusOr<nlohmann::json> AssignPrivateIpAddresses(store::Tx& tx, const Caller& caller,
                                                        const nlohmann::json& input);
absl::StatusOr<nlohmann::json> UnassignPrivateIpAddresses(store::Tx& tx, const Caller& caller,
                                                          const nlohmann::json& input);
// Every instance's primary interface and the created ones; no MaxResults paging yet.
absl::StatusOr<nlohmann::json> DescribeNetworkInterfaces(store::Tx& tx, const Caller& caller,
                                                         const nlohmann::json& input);
// PrivateIpAddresses of an interface (an instance or a row): primary, then the secondary ones.
nlohmann::json WithSecondaryAddresses(const store::Resource& r, nlohmann::json primary);
// An attached interface as DescribeInstances lists it in NetworkInterfaces.
nlohmann::json InstanceInterfaceJson(const store::Resource& eni);
// What holds private addresses of the caller's subnets: its instances and interfaces.
absl::StatusOr<std::vector<store::Resource>> AddressHolders(store::Tx& tx, const Caller& caller);
// For the instance's termination (in its transaction): its attached interfaces are detached, or
// deleted when their attachment says DeleteOnTermination; Elastic IPs follow (see above).
absl::Status ReleaseInstanceInterfaces(store::Tx& tx, const store::Resource& instance,
                                       int64_t now_ms);

// The primary network interface's id of an instance (derived from the instance id, stable).
std::string PrimaryInterfaceId(std::string_view instance_id);

// Elastic IPs pointed at an interface's addresses (network_interface_id) follow it: attached to
// instance_id ("" once detached), or idle once the interface or the address goes (private_ips
// null: all of them).
absl::Status MoveInterfaceAddresses(store::Tx& tx, const std::string& account,
                                    const std::string& region, const std::string& interface_id,
                                    const std::string& instance_id);
absl::Status DisassociateInterfaceAddresses(store::Tx& tx, const std::string& account,
                                            const std::string& region,
                                            const std::string& interface_id,
                                            const std::set<std::string>* private_ips,
                                            int64_t now_ms);

// For the instance's termination (in its transaction): its Elastic IP, if any, becomes idle.
absl::Status DisassociateFromTerminated(store::Tx& tx, store::Resource& instance, int64_t now_ms);

}  // namespace kumo::services
