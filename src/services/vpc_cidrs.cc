// A VPC's secondary IPv4 blocks (AssociateVpcCidrBlock, DisassociateVpcCidrBlock): stored in the
// VPC's data as "secondary_cidrs": [{"association_id", "cidr"}]. Subnets may be made in any of
// the blocks; the host's VPC router and resolver serve them all (host::VpcNet).
#include <fmt/format.h>

#include "common/errors.h"
#include "common/ipv4.h"
#include "common/status_macros.h"
#include "services/vpcs.h"

namespace kumo::services {
namespace {

using nlohmann::json;

// As EC2 allows: the primary block and four more.
constexpr size_t kMaxVpcCidrs = 5;

json Association(const std::string& id, const std::string& cidr, std::string_view state) {
  return {{"AssociationId", id}, {"CidrBlock", cidr}, {"CidrBlockState", {{"State", state}}}};
}

}  // namespace

absl::StatusOr<Cidr> ParseVpcBlock(const std::string& block) {
  if (block.empty()) return MissingParameter("The request must contain the parameter CidrBlock");
  auto cidr = ParseCidr(block);
  if (!cidr.ok()) {
    return InvalidParameterValue(fmt::format(
        "Value ({}) for parameter cidrBlock is invalid. This is not a valid CIDR block.", block));
  }
  if (cidr->prefix_len < 16 || cidr->prefix_len > 28) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidVpc.Range",
                    fmt::format("The CIDR '{}' is invalid.", block));
  }
  return *cidr;
}

std::vector<std::string> VpcCidrs(const store::Resource& vpc) {
  std::vector<std::string> out{vpc.data.value("cidr", "")};
  for (const auto& c : vpc.data.value("secondary_cidrs", json::array())) {
    out.push_back(c.value("cidr", ""));
  }
  return out;
}

json CidrAssociationSet(const store::Resource& vpc) {
  json out = json::array({Association(vpc.data.value("cidr_association_id", ""),
                                      vpc.data.value("cidr", ""), "associated")});
  for (const auto& c : vpc.data.value("secondary_cidrs", json::array())) {
    out.push_back(Association(c.value("association_id", ""), c.value("cidr", ""), "associated"));
  }
  return out;
}

absl::StatusOr<json> AssociateVpcCidrBlock(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                           const json& input) {
  if (input.value("AmazonProvidedIpv6CidrBlock", false) || input.contains("Ipv6CidrBlock") ||
      input.contains("Ipv6Pool") || input.contains("Ipv6IpamPoolId") ||
      input.contains("Ipv4IpamPoolId")) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    "IPv6 and IPAM blocks are not supported by Kumo");
  }
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, input.value("VpcId", "")));
  std::string block = input.value("CidrBlock", "");
  ASSIGN_OR_RETURN(Cidr cidr, ParseVpcBlock(block));
  std::vector<std::string> have = VpcCidrs(vpc);
  for (const auto& h : have) {
    auto other = ParseCidr(h);
    if (other.ok() && other->Overlaps(cidr)) {
      return Ec2Error(
          absl::StatusCode::kInvalidArgument, "CidrConflict",
          fmt::format("The CIDR '{}' conflicts with another CIDR block of the VPC '{}'.", block,
                      vpc.id));
    }
  }
  if (have.size() >= kMaxVpcCidrs) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "CidrLimitExceeded",
                    fmt::format("This network '{}' has met its maximum number of allowed CIDRs: {}",
                                vpc.id, kMaxVpcCidrs));
  }
  std::string id = ids.ResourceId("vpc-cidr-assoc");
  json secondary = vpc.data.value("secondary_cidrs", json::array());
  secondary.push_back({{"association_id", id}, {"cidr", cidr.ToString()}});
  vpc.data["secondary_cidrs"] = secondary;
  RETURN_IF_ERROR(tx.UpdateResource(vpc));
  return json{{"VpcId", vpc.id},
              {"CidrBlockAssociation", Association(id, cidr.ToString(), "associating")}};
}

absl::StatusOr<json> DisassociateVpcCidrBlock(store::Tx& tx, const Caller& caller,
                                              const json& input) {
  std::string id = input.value("AssociationId", "");
  ASSIGN_OR_RETURN(auto vpcs, tx.ListResources(caller.account_id, caller.region, kVpcType));
  for (auto& vpc : vpcs) {
    if (vpc.data.value("cidr_association_id", "") == id) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "OperationNotPermitted",
                      fmt::format("The vpc CIDR block with association ID {} may not be "
                                  "disassociated. It is the primary IPv4 CIDR block of the VPC",
                                  id));
    }
    json secondary = vpc.data.value("secondary_cidrs", json::array());
    for (size_t i = 0; i < secondary.size(); ++i) {
      if (secondary[i].value("association_id", "") != id) continue;
      std::string block = secondary[i].value("cidr", "");
      Cidr cidr = *ParseCidr(block);
      ASSIGN_OR_RETURN(auto subnets,
                       tx.ListResources(caller.account_id, caller.region, kSubnetType));
      for (const auto& s : subnets) {
        auto sc = ParseCidr(s.data.value("cidr", ""));
        if (s.data.value("vpc_id", "") == vpc.id && sc.ok() && cidr.Contains(sc->base)) {
          return Ec2Error(
              absl::StatusCode::kFailedPrecondition, "DependencyViolation",
              fmt::format("The CIDR '{}' of '{}' has subnets and cannot be disassociated.", block,
                          vpc.id));
        }
      }
      secondary.erase(secondary.begin() + long(i));
      vpc.data["secondary_cidrs"] = secondary;
      RETURN_IF_ERROR(tx.UpdateResource(vpc));
      return json{{"VpcId", vpc.id},
                  {"CidrBlockAssociation", Association(id, block, "disassociating")}};
    }
  }
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidVpcCidrBlockAssociationID.NotFound",
                  fmt::format("The vpc CIDR block association ID '{}' does not exist", id));
}

}  // namespace kumo::services
