// What the instance metadata service answers, one HTTP request at a time, with no sockets: the
// transport (server.h) knows the caller and hands its instance here. Paths, listings, IMDSv2
// tokens and error statuses follow EC2's documented IMDS.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "crypto/identity.h"
#include "store/store.h"

namespace kumo::imds {

// A network interface as network/interfaces/macs/<mac>/ shows it.
struct NicView {
  std::string interface_id, mac, subnet_id, subnet_cidr;
  int device_number = 0;
  std::vector<std::string> private_ips;                     // its primary address first
  std::vector<std::pair<std::string, std::string>> groups;  // (id, name)
};

struct InstanceView {
  std::string instance_id, account_id, region, availability_zone, image_id, instance_type,
      reservation_id, private_ip, public_ip, mac, subnet_id, vpc_id, vpc_cidr, key_name, public_key,
      user_data, life_cycle = "on-demand", domain;
  int prefix_len = 20;
  int launch_index = 0;
  int64_t launch_ms = 0;
  std::vector<std::pair<std::string, std::string>> groups;  // (id, name)
  std::map<std::string, std::string> tags;
  std::string http_tokens = "optional";
  int hop_limit = 1;
  std::string http_endpoint = "enabled";
  bool tags_in_metadata = false;
  // Set by the spot market when it schedules an interruption: (action, time in ms).
  std::optional<std::pair<std::string, int64_t>> spot_action;
  // Set by a rebalance recommendation: its time in ms.
  std::optional<int64_t> rebalance_ms;
  // The GPUs it holds: (elastic GPU id, the JSON document elastic-gpus/associations/<id> serves).
  std::vector<std::pair<std::string, std::string>> elastic_gpus;
  // The primary interface's secondary addresses; the VPC's blocks as they are now (empty:
  // vpc_cidr); the interfaces attached besides the primary one; Elastic IPs on any of its
  // addresses but the primary one's (private → public: ipv4-associations, public-ipv4s).
  std::vector<std::string> secondary_ips;
  std::vector<std::string> vpc_cidrs;
  std::vector<NicView> extra_nics;
  std::map<std::string, std::string> associations;
};

// What the tree shows of an instance's network besides its own record: the network interfaces
// attached to it, the Elastic IPs of its account and region, and its VPC (each may be empty).
struct NetworkRows {
  std::vector<store::Resource> interfaces;
  std::vector<store::Resource> addresses;
  std::optional<store::Resource> vpc;
};

// The view of a stored instance record (see services/instances.cc) and its tags.
InstanceView ViewOf(const store::Resource& r, const std::vector<store::Tag>& tags,
                    const NetworkRows& network = {});

struct Request {
  std::string method;
  std::string target;                          // path[?query]
  std::map<std::string, std::string> headers;  // names lower-cased
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int ip_ttl = 0;  // > 0: send with this IP TTL (the IMDSv2 hop limit)
};

class MetadataService {
 public:
  // token_key MACs IMDSv2 tokens; signer (may be null) signs identity documents.
  MetadataService(const Clock& clock, std::string token_key, const crypto::IdentitySigner* signer);
  Response Handle(const InstanceView& instance, const Request& req) const;

  // An IMDSv2 token for the instance, valid for ttl_s from now (exposed for tests).
  std::string MintToken(const std::string& instance_id, int ttl_s) const;

 private:
  bool TokenValid(const std::string& instance_id, const std::string& token) const;
  Response Get(const InstanceView& in, const std::string& path) const;

  const Clock& clock_;
  std::string token_key_;
  const crypto::IdentitySigner* signer_;
};

}  // namespace kumo::imds
