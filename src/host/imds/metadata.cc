#include "host/imds/metadata.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <set>

#include "common/encoding.h"
#include "common/hash.h"
#include "common/ipv4.h"
#include "services/addresses.h"
#include "services/gpus.h"
#include "services/regions.h"
#include "services/vpcs.h"

namespace kumo::imds {
namespace {

using nlohmann::json;

constexpr int kMaxTokenTtl = 21600;  // six hours, as EC2

// The versions EC2's IMDS lists at "/", oldest first; each serves the same tree here.
constexpr const char* kVersions[] = {
    "1.0",        "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
    "2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12",
    "2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02",
    "2018-03-28", "2018-08-17", "2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03",
    "2021-03-23", "2021-07-15", "2022-09-24", "latest"};

Response Status(int code, std::string body, std::string type = "text/plain") {
  Response r;
  r.status = code;
  r.body = std::move(body);
  r.content_type = std::move(type);
  return r;
}

// EC2's own error page shape.
Response Error(int code, const char* what) {
  return Status(code,
                fmt::format("<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n"
                            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n"
                            "\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
                            "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" "
                            "lang=\"en\">\n <head>\n  <title>{0} - {1}</title>\n </head>\n"
                            " <body>\n  <h1>{0} - {1}</h1>\n </body>\n</html>\n",
                            code, what),
                "text/html");
}

std::string Iso(int64_t ms) {
  std::time_t t = std::time_t(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Dashed(const std::string& ip) {
  std::string d = ip;
  std::replace(d.begin(), d.end(), '.', '-');
  return d;
}

// The subnet of an address: common's IPv4 parsing, with the host bits cleared.
std::string SubnetCidr(const std::string& ip, int prefix_len) {
  auto addr = ParseIpv4(ip);
  if (!addr.ok() || prefix_len < 0 || prefix_len > 32) return "";
  Cidr c{0, prefix_len};
  c.base = *addr & c.Mask();
  return c.ToString();
}

// Every leaf of the instance's meta-data tree, by path below "meta-data/".
std::map<std::string, std::string> Leaves(const InstanceView& in) {
  std::map<std::string, std::string> m;
  std::string local_host = fmt::format("ip-{}.{}", Dashed(in.private_ip), in.domain);
  std::string public_host =
      in.public_ip.empty() ? ""
                           : fmt::format("ec2-{}.{}.compute.kumo", Dashed(in.public_ip), in.region);
  std::vector<std::string> ids, names;
  for (const auto& [id, name] : in.groups) {
    ids.push_back(id);
    names.push_back(name);
  }
  m["ami-id"] = in.image_id;
  m["ami-launch-index"] = std::to_string(in.launch_index);
  m["ami-manifest-path"] = "(unknown)";
  m["block-device-mapping/ami"] = "/dev/xvda";
  m["block-device-mapping/root"] = "/dev/xvda";
  m["events/maintenance/history"] = "[]";
  m["events/maintenance/scheduled"] = "[]";
  m["hostname"] = local_host;
  m["instance-action"] = "none";
  m["instance-id"] = in.instance_id;
  m["instance-life-cycle"] = in.life_cycle;
  m["instance-type"] = in.instance_type;
  m["local-hostname"] = local_host;
  m["local-ipv4"] = in.private_ip;
  m["mac"] = in.mac;
  NicView primary{services::PrimaryInterfaceId(in.instance_id),
                  in.mac,
                  in.subnet_id,
                  SubnetCidr(in.private_ip, in.prefix_len),
                  0,
                  {in.private_ip},
                  in.groups};
  primary.private_ips.insert(primary.private_ips.end(), in.secondary_ips.begin(),
                             in.secondary_ips.end());
  std::vector<NicView> nics = {primary};
  nics.insert(nics.end(), in.extra_nics.begin(), in.extra_nics.end());
  std::string vpc_blocks =
      in.vpc_cidrs.empty() ? in.vpc_cidr : fmt::format("{}", fmt::join(in.vpc_cidrs, "\n"));
  for (const NicView& n : nics) {
    std::string nic = "network/interfaces/macs/" + n.mac + "/";
    std::string first = n.private_ips.empty() ? "" : n.private_ips[0];
    std::vector<std::string> group_ids, group_names, publics;
    for (const auto& [id, name] : n.groups) {
      group_ids.push_back(id);
      group_names.push_back(name);
    }
    m[nic + "device-number"] = std::to_string(n.device_number);
    m[nic + "interface-id"] = n.interface_id;
    m[nic + "local-hostname"] = fmt::format("ip-{}.{}", Dashed(first), in.domain);
    m[nic + "local-ipv4s"] = fmt::format("{}", fmt::join(n.private_ips, "\n"));
    m[nic + "mac"] = n.mac;
    m[nic + "owner-id"] = in.account_id;
    m[nic + "security-group-ids"] = fmt::format("{}", fmt::join(group_ids, "\n"));
    m[nic + "security-groups"] = fmt::format("{}", fmt::join(group_names, "\n"));
    m[nic + "subnet-id"] = n.subnet_id;
    m[nic + "subnet-ipv4-cidr-block"] = n.subnet_cidr;
    m[nic + "vpc-id"] = in.vpc_id;
    m[nic + "vpc-ipv4-cidr-block"] = in.vpc_cidr;
    m[nic + "vpc-ipv4-cidr-blocks"] = vpc_blocks;
    for (const auto& ip : n.private_ips) {
      std::string pub = n.device_number == 0 && ip == in.private_ip ? in.public_ip : "";
      if (auto it = in.associations.find(ip); pub.empty() && it != in.associations.end()) {
        pub = it->second;
      }
      if (pub.empty()) continue;
      publics.push_back(pub);
      m[nic + "ipv4-associations/" + pub] = ip;
    }
    if (!publics.empty()) {
      m[nic + "public-hostname"] =
          fmt::format("ec2-{}.{}.compute.kumo", Dashed(publics[0]), in.region);
      m[nic + "public-ipv4s"] = fmt::format("{}", fmt::join(publics, "\n"));
    }
  }
  if (!in.public_ip.empty()) {
    m["public-hostname"] = public_host;
    m["public-ipv4"] = in.public_ip;
  }
  m["placement/availability-zone"] = in.availability_zone;
  int zone_index = in.availability_zone.empty() ? 0 : in.availability_zone.back() - 'a';
  m["placement/availability-zone-id"] = services::Regions::ZoneId(in.region, zone_index);
  m["placement/region"] = in.region;
  m["profile"] = "default-hvm";
  if (!in.public_key.empty()) m["public-keys/0/openssh-key"] = in.public_key + "\n";
  m["reservation-id"] = in.reservation_id;
  m["security-groups"] = fmt::format("{}", fmt::join(names, "\n"));
  m["services/domain"] = "amazonaws.com";
  m["services/partition"] = "aws";
  if (in.spot_action) {
    m["spot/instance-action"] =
        json{{"action", in.spot_action->first}, {"time", Iso(in.spot_action->second)}}.dump();
    m["spot/termination-time"] = Iso(in.spot_action->second);
  }
  for (const auto& [id, doc] : in.elastic_gpus) m["elastic-gpus/associations/" + id] = doc;
  if (in.rebalance_ms) {
    m["events/recommendations/rebalance"] = json{{"noticeTime", Iso(*in.rebalance_ms)}}.dump();
  }
  if (in.tags_in_metadata) {
    // EC2 refuses such keys while metadata tags are on; here they are left out of the tree.
    for (const auto& [k, v] : in.tags) {
      if (k.empty() || k == "." || k == ".." || k == "_index" || k.find('/') != std::string::npos) {
        continue;
      }
      m["tags/instance/" + k] = v;
    }
  }
  return m;
}

// The entries of directory dir ("" or "x/y/") of a leaf map: names, directories with a '/'.
std::string Listing(const std::map<std::string, std::string>& leaves, const std::string& dir) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto it = leaves.lower_bound(dir); it != leaves.end(); ++it) {
    if (it->first.compare(0, dir.size(), dir) != 0) break;
    std::string rest = it->first.substr(dir.size());
    size_t slash = rest.find('/');
    std::string entry = slash == std::string::npos ? rest : rest.substr(0, slash + 1);
    if (seen.insert(entry).second) out.push_back(entry);
  }
  return fmt::format("{}", fmt::join(out, "\n"));
}

std::string IdentityDocument(const InstanceView& in) {
  auto q = [](const std::string& s) { return json(s).dump(); };
  return fmt::format(
      "{{\n"
      "  \"accountId\" : {},\n"
      "  \"architecture\" : \"x86_64\",\n"
      "  \"availabilityZone\" : {},\n"
      "  \"billingProducts\" : null,\n"
      "  \"devpayProductCodes\" : null,\n"
      "  \"marketplaceProductCodes\" : null,\n"
      "  \"imageId\" : {},\n"
      "  \"instanceId\" : {},\n"
      "  \"instanceType\" : {},\n"
      "  \"kernelId\" : null,\n"
      "  \"pendingTime\" : {},\n"
      "  \"privateIp\" : {},\n"
      "  \"ramdiskId\" : null,\n"
      "  \"region\" : {},\n"
      "  \"version\" : \"2017-09-30\"\n"
      "}}",
      q(in.account_id), q(in.availability_zone), q(in.image_id), q(in.instance_id),
      q(in.instance_type), q(Iso(in.launch_ms)), q(in.private_ip), q(in.region));
}

std::string Header(const Request& req, const char* name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? "" : it->second;
}

bool Has(const Request& req, const char* name) { return req.headers.count(name) > 0; }

}  // namespace

InstanceView ViewOf(const store::Resource& r, const std::vector<store::Tag>& tags,
                    const NetworkRows& network) {
  const json& d = r.data;
  InstanceView v;
  v.instance_id = r.id;
  v.account_id = r.account_id;
  v.region = r.region;
  v.domain = r.region == "us-east-1" ? "ec2.internal" : r.region + ".compute.internal";
  v.availability_zone = d.value("availability_zone", "");
  v.image_id = d.value("image_id", "");
  v.instance_type = d.value("instance_type", "");
  v.reservation_id = d.value("reservation_id", "");
  v.private_ip = d.value("private_ip", "");
  v.public_ip = d.value("public_ip", "");
  v.mac = d.value("mac", "");
  v.subnet_id = d.value("subnet_id", "");
  v.vpc_id = d.value("vpc_id", "");
  v.vpc_cidr = d.value("vpc_cidr", "");
  v.key_name = d.value("key_name", "");
  v.public_key = d.value("public_key", "");
  if (auto raw = Base64Decode(d.value("user_data", ""))) v.user_data = *raw;
  v.life_cycle = d.value("instance_lifecycle", "") == "spot" ? "spot" : "on-demand";
  v.prefix_len = d.value("prefix_len", 20);
  v.launch_index = d.value("launch_index", 0);
  v.launch_ms = d.value("launch_ms", int64_t(0));
  for (const auto& g : d.value("groups", json::array())) {
    v.groups.emplace_back(g.value("id", ""), g.value("name", ""));
  }
  for (const auto& t : tags) v.tags[t.key] = t.value;
  json m = d.value("metadata_options", json::object());
  if (!m.is_object()) m = json::object();
  v.http_tokens = m.value("http_tokens", "optional");
  v.hop_limit = m.value("hop_limit", 1);
  v.http_endpoint = m.value("http_endpoint", "enabled");
  v.tags_in_metadata = m.value("tags", "disabled") == "enabled";
  if (d.contains("rebalance_ms") && d["rebalance_ms"].is_number_integer()) {
    v.rebalance_ms = d["rebalance_ms"].get<int64_t>();
  }
  for (const auto& g : services::AssignedGpus(r)) {
    // EC2's document for an elastic GPU, with what a CUDA user needs to know added (Kumo's).
    std::string id = services::ElasticGpuId(r.id, g.uuid);
    v.elastic_gpus.emplace_back(id, json{{"version", "2016-11-30"},
                                         {"elastic-gpu-id", id},
                                         {"elastic-gpu-state", "OK"},
                                         {"elastic-gpu-type", g.name},
                                         {"gpu-uuid", g.uuid},
                                         {"gpu-pci-bus-id", g.pci_bus_id},
                                         {"gpu-memory-mib", g.memory_mib},
                                         {"device", "/dev/nvidia" + std::to_string(g.minor)}}
                                        .dump());
  }
  json spot = d.value("spot_action", json());
  if (spot.is_object()) {
    v.spot_action =
        std::make_pair(spot.value("action", "terminate"), spot.value("time_ms", int64_t(0)));
  }
  v.secondary_ips = d.value("secondary_ips", std::vector<std::string>{});
  if (network.vpc) v.vpc_cidrs = services::VpcCidrs(*network.vpc);
  for (const auto& e : network.interfaces) {
    json a = e.data.value("attachment", json());
    if (!a.is_object() || a.value("instance_id", "") != r.id) continue;
    NicView n;
    n.interface_id = e.id;
    n.mac = e.data.value("mac", "");
    n.subnet_id = e.data.value("subnet_id", "");
    n.subnet_cidr = SubnetCidr(e.data.value("private_ip", ""), e.data.value("prefix_len", 24));
    n.device_number = a.value("device_index", 1);
    n.private_ips.push_back(e.data.value("private_ip", ""));
    for (const auto& ip : e.data.value("secondary_ips", std::vector<std::string>{})) {
      n.private_ips.push_back(ip);
    }
    for (const auto& g : e.data.value("groups", json::array())) {
      n.groups.emplace_back(g.value("id", ""), g.value("name", ""));
    }
    v.extra_nics.push_back(std::move(n));
  }
  std::sort(v.extra_nics.begin(), v.extra_nics.end(),
            [](const NicView& a, const NicView& b) { return a.device_number < b.device_number; });
  for (const auto& eip : network.addresses) {
    if (eip.data.value("instance_id", "") != r.id) continue;
    if (eip.data.value("association_id", "").empty()) continue;
    v.associations[eip.data.value("private_ip", "")] = eip.data.value("public_ip", "");
  }
  return v;
}

MetadataService::MetadataService(const Clock& clock, std::string token_key,
                                 const crypto::IdentitySigner* signer)
    : clock_(clock), token_key_(std::move(token_key)), signer_(signer) {}

std::string MetadataService::MintToken(const std::string& instance_id, int ttl_s) const {
  int64_t expires = UnixMillis(clock_.Now()) / 1000 + ttl_s;
  std::string body = fmt::format("{}|{}", instance_id, expires);
  std::string mac = HexEncode(HmacSha256(token_key_, body));
  std::string token = Base64Encode(body + "|" + mac);
  // URL- and header-safe: base64url without padding.
  for (auto& c : token) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!token.empty() && token.back() == '=') token.pop_back();
  return token;
}

bool MetadataService::TokenValid(const std::string& instance_id, const std::string& token) const {
  if (token.empty() || token.size() > 512) return false;
  std::string b64 = token;
  for (auto& c : b64) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (b64.size() % 4) b64 += '=';
  auto raw = Base64Decode(b64);
  if (!raw) return false;
  size_t last = raw->rfind('|');
  if (last == std::string::npos) return false;
  std::string body = raw->substr(0, last), mac = raw->substr(last + 1);
  if (!ConstantTimeEquals(mac, HexEncode(HmacSha256(token_key_, body)))) return false;
  size_t bar = body.rfind('|');
  if (bar == std::string::npos || body.substr(0, bar) != instance_id) return false;
  int64_t expires = 0;
  const char* s = body.data() + bar + 1;
  auto [p, ec] = std::from_chars(s, body.data() + body.size(), expires);
  if (ec != std::errc() || p != body.data() + body.size()) return false;
  return UnixMillis(clock_.Now()) / 1000 < expires;
}

Response MetadataService::Handle(const InstanceView& in, const Request& req) const {
  // HttpEndpoint=disabled: EC2 answers every request with 403 Forbidden.
  if (in.http_endpoint != "enabled") return Error(403, "Forbidden");
  std::string path = req.target.substr(0, req.target.find('?'));
  if (req.method == "PUT") {
    if (path != "/latest/api/token") return Error(405, "Method Not Allowed");
    // A request that went through a proxy is not from the instance's own software.
    if (Has(req, "x-forwarded-for")) return Error(403, "Forbidden");
    std::string ttl_text = Header(req, "x-aws-ec2-metadata-token-ttl-seconds");
    int ttl = 0;
    auto [p, ec] = std::from_chars(ttl_text.data(), ttl_text.data() + ttl_text.size(), ttl);
    if (ttl_text.empty() || ec != std::errc() || p != ttl_text.data() + ttl_text.size() ||
        ttl < 1 || ttl > kMaxTokenTtl) {
      return Error(400, "Bad Request");
    }
    Response r = Status(200, MintToken(in.instance_id, ttl));
    r.headers.emplace_back("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", std::to_string(ttl));
    r.ip_ttl = in.hop_limit;
    return r;
  }
  if (req.method != "GET" && req.method != "HEAD") return Error(405, "Method Not Allowed");
  if (Has(req, "x-aws-ec2-metadata-token")) {
    if (!TokenValid(in.instance_id, Header(req, "x-aws-ec2-metadata-token"))) {
      return Error(401, "Unauthorized");
    }
  } else if (in.http_tokens == "required") {
    return Error(401, "Unauthorized");
  }
  return Get(in, path);
}

Response MetadataService::Get(const InstanceView& in, const std::string& path) const {
  if (path == "/" || path.empty()) {
    std::vector<std::string> v(std::begin(kVersions), std::end(kVersions));
    return Status(200, fmt::format("{}", fmt::join(v, "\n")));
  }
  size_t slash = path.find('/', 1);
  std::string version = path.substr(1, slash == std::string::npos ? slash : slash - 1);
  if (std::find(std::begin(kVersions), std::end(kVersions), version) == std::end(kVersions)) {
    return Error(404, "Not Found");
  }
  std::string rest = slash == std::string::npos ? "" : path.substr(slash + 1);
  if (rest.empty()) {
    return Status(200,
                  in.user_data.empty() ? "dynamic\nmeta-data" : "dynamic\nmeta-data\nuser-data");
  }
  if (rest == "user-data" || rest == "user-data/") {
    if (in.user_data.empty()) return Error(404, "Not Found");
    return Status(200, in.user_data, "application/octet-stream");
  }
  if (rest == "dynamic" || rest == "dynamic/") return Status(200, "instance-identity/");
  if (rest.rfind("dynamic/instance-identity", 0) == 0) {
    std::string leaf = rest.substr(std::string("dynamic/instance-identity").size());
    if (leaf.empty() || leaf == "/") {
      return Status(200, signer_ ? "document\npkcs7\nrsa2048\nsignature" : "document");
    }
    std::string doc = IdentityDocument(in);
    if (leaf == "/document") return Status(200, doc);
    if (!signer_) return Error(404, "Not Found");
    if (leaf == "/signature") {
      auto sig = signer_->SignatureBase64(doc);
      return sig.ok() ? Status(200, *sig) : Error(500, "Internal Server Error");
    }
    if (leaf == "/pkcs7" || leaf == "/rsa2048") {
      auto p7 = signer_->Pkcs7Base64(doc);
      return p7.ok() ? Status(200, *p7) : Error(500, "Internal Server Error");
    }
    return Error(404, "Not Found");
  }
  if (rest != "meta-data" && rest.rfind("meta-data/", 0) != 0) return Error(404, "Not Found");
  std::string sub = rest == "meta-data" ? "" : rest.substr(std::string("meta-data/").size());
  auto leaves = Leaves(in);
  // public-keys lists "index=name", as EC2 does; its entries are the key's formats.
  if (sub == "public-keys" || sub == "public-keys/") {
    if (in.public_key.empty()) return Error(404, "Not Found");
    return Status(200, "0=" + in.key_name);
  }
  if (auto it = leaves.find(sub); it != leaves.end()) return Status(200, it->second);
  std::string dir = sub.empty() || sub.back() == '/' ? sub : sub + "/";
  std::string listing = Listing(leaves, dir);
  if (listing.empty()) return Error(404, "Not Found");
  return Status(200, listing);
}

}  // namespace kumo::imds
