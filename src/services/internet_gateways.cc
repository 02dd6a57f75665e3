// Internet gateways: CreateInternetGateway, DeleteInternetGateway, AttachInternetGateway,
// DetachInternetGateway, DescribeInternetGateways.
#include <fmt/format.h>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/instances.h"
#include "services/routing.h"
#include "services/routing_internal.h"
#include "services/tags.h"
#include "services/vpcs.h"

namespace kumo::services {

namespace routing {

absl::Status InternetGatewayNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidInternetGatewayID.NotFound",
                  fmt::format("The internetGateway ID '{}' does not exist", id));
}

absl::Status DependencyViolation(std::string_view message) {
  return Ec2Error(absl::StatusCode::kFailedPrecondition, "DependencyViolation", message);
}

absl::Status Unsupported(std::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported", message);
}

absl::StatusOr<store::Resource> GetInternetGateway(store::Tx& tx, const Caller& caller,
                                                   std::string_view id) {
  auto igw = tx.GetResource(caller.account_id, caller.region, id);
  if (absl::IsNotFound(igw.status()) || (igw.ok() && igw->type != kInternetGatewayType)) {
    return InternetGatewayNotFound(id);
  }
  return igw;
}

std::map<std::string, std::string> AttachedVpcs(const std::vector<store::Resource>& gateways) {
  std::map<std::string, std::string> out;
  for (const auto& g : gateways) {
    std::string vpc = g.data.value("vpc_id", "");
    if (!vpc.empty()) out[g.id] = vpc;
  }
  return out;
}

}  // namespace routing

namespace {

using nlohmann::json;
using routing::DependencyViolation;
using routing::GetInternetGateway;

json RenderInternetGateway(const store::Resource& r, const std::vector<store::Tag>& tags) {
  json attachments = json::array();
  std::string vpc = r.data.value("vpc_id", "");
  // EC2 reports an attached gateway's attachment as "available", not "attached".
  if (!vpc.empty()) attachments.push_back({{"State", "available"}, {"VpcId", vpc}});
  return json{{"InternetGatewayId", r.id},
              {"OwnerId", r.account_id},
              {"Attachments", attachments},
              {"Tags", TagSetJson(tags)}};
}

// The caller's gateway attached to the VPC, if any.
absl::StatusOr<std::optional<store::Resource>> GatewayOfVpc(store::Tx& tx, const Caller& caller,
                                                            std::string_view vpc_id) {
  ASSIGN_OR_RETURN(auto gateways,
                   tx.ListResources(caller.account_id, caller.region, kInternetGatewayType));
  for (auto& g : gateways) {
    if (g.data.value("vpc_id", "") == vpc_id) return std::optional<store::Resource>(std::move(g));
  }
  return std::optional<store::Resource>();
}

}  // namespace

absl::StatusOr<std::string> CreateAttachedInternetGateway(store::Tx& tx, const Caller& caller,
                                                          IdGenerator& ids,
                                                          const store::Resource& vpc) {
  store::Resource igw{ids.ResourceId("igw"),
                      caller.account_id,
                      caller.region,
                      std::string(kInternetGatewayType),
                      "",
                      json{{"vpc_id", vpc.id}},
                      0,
                      UnixMillis(caller.now)};
  RETURN_IF_ERROR(tx.InsertResource(igw));
  return igw.id;
}

absl::StatusOr<json> CreateInternetGateway(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                           const json& input) {
  ASSIGN_OR_RETURN(auto tags, TagsFromSpecifications(input.value("TagSpecifications", json()),
                                                     kInternetGatewayType));
  store::Resource igw{ids.ResourceId("igw"),
                      caller.account_id,
                      caller.region,
                      std::string(kInternetGatewayType),
                      "",
                      json{{"vpc_id", ""}},
                      0,
                      UnixMillis(caller.now)};
  RETURN_IF_ERROR(tx.InsertResource(igw));
  RETURN_IF_ERROR(ApplyTags(tx, caller, igw.id, igw.type, tags));
  ASSIGN_OR_RETURN(auto stored, tx.ListTags(caller.account_id, caller.region, igw.id));
  return json{{"InternetGateway", RenderInternetGateway(igw, stored)}};
}

absl::StatusOr<json> DeleteInternetGateway(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource igw,
                   GetInternetGateway(tx, caller, input.value("InternetGatewayId", "")));
  if (!igw.data.value("vpc_id", "").empty()) {
    return DependencyViolation(
        fmt::format("The internetGateway '{}' has dependencies and cannot be deleted.", igw.id));
  }
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, igw.id));
  return json::object();
}

absl::StatusOr<json> AttachInternetGateway(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource igw,
                   GetInternetGateway(tx, caller, input.value("InternetGatewayId", "")));
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, input.value("VpcId", "")));
  std::string current = igw.data.value("vpc_id", "");
  if (!current.empty()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "Resource.AlreadyAssociated",
                    fmt::format("resource {} is already attached to network {}", igw.id, current));
  }
  ASSIGN_OR_RETURN(auto other, GatewayOfVpc(tx, caller, vpc.id));
  if (other) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "Resource.AlreadyAssociated",
                    fmt::format("Network {} already has an internet gateway attached", vpc.id));
  }
  igw.data["vpc_id"] = vpc.id;
  RETURN_IF_ERROR(tx.UpdateResource(igw));
  return json::object();
}

absl::StatusOr<json> DetachInternetGateway(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource igw,
                   GetInternetGateway(tx, caller, input.value("InternetGatewayId", "")));
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, input.value("VpcId", "")));
  if (igw.data.value("vpc_id", "") != vpc.id) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "Gateway.NotAttached",
                    fmt::format("resource {} is not attached to network {}", igw.id, vpc.id));
  }
  // As on EC2: not while instances of the VPC have public addresses mapped through it.
  ASSIGN_OR_RETURN(auto instances,
                   tx.ListResources(caller.account_id, caller.region, kInstanceType));
  for (const auto& i : instances) {
    if (i.data.value("vpc_id", "") == vpc.id && i.data.value("state", "") != "terminated" &&
        !i.data.value("public_ip", "").empty()) {
      return DependencyViolation(fmt::format(
          "Network {} has some mapped public address(es). Please unmap those public address(es) "
          "before detaching the gateway.",
          vpc.id));
    }
  }
  igw.data["vpc_id"] = "";
  RETURN_IF_ERROR(tx.UpdateResource(igw));
  return json::object();
}

absl::StatusOr<json> DescribeInternetGateways(store::Tx& tx, const Caller& caller,
                                              const json& input) {
  DescribeSpec spec;
  spec.type = kInternetGatewayType;
  spec.ids_member = "InternetGatewayIds";
  spec.output_member = "InternetGateways";
  spec.filter_names = {"internet-gateway-id", "attachment.vpc-id", "attachment.state", "owner-id"};
  spec.not_found = routing::InternetGatewayNotFound;
  spec.fields = [](const store::Resource& r) {
    FilterFields f{{"internet-gateway-id", r.id}, {"owner-id", r.account_id}};
    std::string vpc = r.data.value("vpc_id", "");
    if (!vpc.empty()) {
      f.emplace("attachment.vpc-id", vpc);
      f.emplace("attachment.state", "available");
    }
    return f;
  };
  spec.render = RenderInternetGateway;
  return DescribeResources(tx, caller, input, spec);
}

}  // namespace kumo::services
