#include "host/imds/metadata.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "absl/strings/str_replace.h"
#include "common/encoding.h"
#include "common/files.h"

namespace kumo::imds {
namespace {

class MetadataTest : public ::testing::Test {
 protected:
  MetadataTest() : clock_(TimePoint(std::chrono::seconds(1700000000))) {
    view_.instance_id = "i-0123456789abcdef0";
    view_.account_id = "111111111111";
    view_.region = "eu-west-1";
    view_.domain = "eu-west-1.compute.internal";
    view_.availability_zone = "eu-west-1b";
    view_.image_id = "ami-00000000000000001";
    view_.instance_type = "t2.micro";
    view_.reservation_id = "r-0000000000000000a";
    view_.private_ip = "172.31.17.5";
    view_.public_ip = "100.64.7.9";
    view_.mac = "02:aa:bb:cc:dd:ee";
    view_.subnet_id = "subnet-1";
    view_.vpc_id = "vpc-1";
    view_.vpc_cidr = "172.31.0.0/16";
    view_.key_name = "mykey";
    view_.public_key = "ssh-ed25519 AAAA mykey";
    view_.groups = {{"sg-1", "ssh"}, {"sg-2", "web"}};
    view_.launch_ms = 1700000000000;
  }

  Response Get(const std::string& path, std::map<std::string, std::string> headers = {}) {
    return service_.Handle(view_, {"GET", path, std::move(headers)});
  }
  Response Put(std::map<std::string, std::string> headers) {
    return service_.Handle(view_, {"PUT", "/latest/api/token", std::move(headers)});
  }

  ManualClock clock_;
  MetadataService service_{clock_, "token key", nullptr};
  InstanceView view_;
};

TEST_F(MetadataTest, ListingsAndLeavesHaveEc2sShapes) {
  Response root = Get("/latest/meta-data/");
  ASSERT_EQ(root.status, 200);
  for (const char* e : {"ami-id\n", "block-device-mapping/\n", "instance-id\n", "placement/\n",
                        "public-ipv4\n", "public-keys/\n", "network/\n", "security-groups\n"}) {
    EXPECT_NE(root.body.find(e), std::string::npos) << e << root.body;
  }
  EXPECT_EQ(Get("/latest/meta-data").body, root.body);
  EXPECT_EQ(Get("/latest/meta-data/instance-id").body, view_.instance_id);
  EXPECT_EQ(Get("/2009-04-04/meta-data/instance-id").body, view_.instance_id);
  EXPECT_EQ(Get("/1999-01-01/meta-data/instance-id").status, 404);
  EXPECT_EQ(Get("/latest/meta-data/nope").status, 404);
  EXPECT_EQ(Get("/latest/meta-data/local-hostname").body,
            "ip-172-31-17-5.eu-west-1.compute.internal");
  EXPECT_EQ(Get("/latest/meta-data/public-hostname").body, "ec2-100-64-7-9.eu-west-1.compute.kumo");
  EXPECT_EQ(Get("/latest/meta-data/security-groups").body, "ssh\nweb");
  EXPECT_EQ(Get("/latest/meta-data/placement/").body,
            "availability-zone\navailability-zone-id\nregion");
  EXPECT_EQ(Get("/latest/meta-data/placement/availability-zone-id").body, "euw1-az2");
  EXPECT_EQ(Get("/latest/meta-data/public-keys/").body, "0=mykey");
  EXPECT_EQ(Get("/latest/meta-data/public-keys/0/").body, "openssh-key");
  EXPECT_EQ(Get("/latest/meta-data/public-keys/0/openssh-key").body, view_.public_key + "\n");
  std::string nic = "/latest/meta-data/network/interfaces/macs/" + view_.mac + "/";
  EXPECT_EQ(Get("/latest/meta-data/network/interfaces/macs/").body, view_.mac + "/");
  EXPECT_EQ(Get(nic + "subnet-ipv4-cidr-block").body, "172.31.16.0/20");
  EXPECT_EQ(Get(nic + "security-group-ids").body, "sg-1\nsg-2");
  EXPECT_EQ(Get(nic + "owner-id").body, view_.account_id);
  EXPECT_EQ(Get("/latest/meta-data/block-device-mapping/").body, "ami\nroot");
  EXPECT_EQ(Get("/").body.substr(0, 4), "1.0\n");

  view_.public_ip.clear();
  view_.public_key.clear();
  EXPECT_EQ(Get("/latest/meta-data/public-ipv4").status, 404);
  EXPECT_EQ(Get("/latest/meta-data/public-keys/").status, 404);
  EXPECT_EQ(Get("/latest/meta-data/").body.find("public-"), std::string::npos);
}

TEST_F(MetadataTest, EveryInterfaceItsAddressesAndAssociations) {
  view_.instance_id = "i-0123456789abcdef0";
  view_.secondary_ips = {"172.31.17.6"};
  view_.vpc_cidrs = {"172.31.0.0/16", "172.32.0.0/16"};
  view_.associations = {{"172.31.17.6", "100.64.7.20"}, {"172.31.40.9", "100.64.7.21"}};
  view_.extra_nics = {{"eni-0fedcba9876543210",
                       "02:00:00:00:00:07",
                       "subnet-2",
                       "172.31.32.0/20",
                       1,
                       {"172.31.40.9"},
                       {{"sg-3", "db"}}}};
  std::string macs = "/latest/meta-data/network/interfaces/macs/";
  EXPECT_EQ(Get(macs).body, "02:00:00:00:00:07/\n" + view_.mac + "/");
  std::string primary = macs + view_.mac + "/";
  // The primary interface's id is the one DescribeNetworkInterfaces shows.
  EXPECT_EQ(Get(primary + "interface-id").body, "eni-0123456789abcdef0");
  EXPECT_EQ(Get(primary + "local-ipv4s").body, "172.31.17.5\n172.31.17.6");
  EXPECT_EQ(Get(primary + "public-ipv4s").body, "100.64.7.9\n100.64.7.20");
  EXPECT_EQ(Get(primary + "ipv4-associations/100.64.7.20").body, "172.31.17.6");
  EXPECT_EQ(Get(primary + "vpc-ipv4-cidr-blocks").body, "172.31.0.0/16\n172.32.0.0/16");
  std::string second = macs + "02:00:00:00:00:07/";
  EXPECT_EQ(Get(second + "device-number").body, "1");
  EXPECT_EQ(Get(second + "interface-id").body, "eni-0fedcba9876543210");
  EXPECT_EQ(Get(second + "subnet-ipv4-cidr-block").body, "172.31.32.0/20");
  EXPECT_EQ(Get(second + "security-group-ids").body, "sg-3");
  EXPECT_EQ(Get(second + "public-ipv4s").body, "100.64.7.21");
  EXPECT_EQ(Get(second + "local-hostname").body, "ip-172-31-40-9.eu-west-1.compute.internal");
}

TEST_F(MetadataTest, UserDataSpotAndTags) {
  EXPECT_EQ(Get("/latest/user-data").status, 404);
  EXPECT_EQ(Get("/latest/").body, "dynamic\nmeta-data");
  view_.user_data = std::string("#!/bin/bash\n\0\xff", 14);
  EXPECT_EQ(Get("/latest/user-data").body, view_.user_data);
  EXPECT_EQ(Get("/latest/").body, "dynamic\nmeta-data\nuser-data");

  EXPECT_EQ(Get("/latest/meta-data/spot/instance-action").status, 404);
  EXPECT_EQ(Get("/latest/meta-data/spot/termination-time").status, 404);
  view_.spot_action = std::make_pair("terminate", int64_t(1700000120000));
  EXPECT_EQ(Get("/latest/meta-data/spot/termination-time").body, "2023-11-14T22:15:20Z");
  EXPECT_EQ(Get("/latest/meta-data/spot/instance-action").body,
            R"({"action":"terminate","time":"2023-11-14T22:15:20Z"})");
  EXPECT_EQ(Get("/latest/meta-data/events/recommendations/rebalance").status, 404);
  view_.rebalance_ms = int64_t(1700000000000);
  EXPECT_EQ(Get("/latest/meta-data/events/recommendations/rebalance").body,
            R"({"noticeTime":"2023-11-14T22:13:20Z"})");

  view_.tags = {{"Name", "theano"}};
  EXPECT_EQ(Get("/latest/meta-data/tags/instance/Name").status, 404);
  view_.tags_in_metadata = true;
  EXPECT_EQ(Get("/latest/meta-data/tags/instance/").body, "Name");
  EXPECT_EQ(Get("/latest/meta-data/tags/instance/Name").body, "theano");
}

TEST_F(MetadataTest, Imdsv2Tokens) {
  Response t = Put({{"x-aws-ec2-metadata-token-ttl-seconds", "60"}});
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(t.ip_ttl, 1);
  EXPECT_EQ(Get("/latest/meta-data/instance-id", {{"x-aws-ec2-metadata-token", t.body}}).status,
            200);
  EXPECT_EQ(Put({}).status, 400);
  EXPECT_EQ(Put({{"x-aws-ec2-metadata-token-ttl-seconds", "0"}}).status, 400);
  EXPECT_EQ(Put({{"x-aws-ec2-metadata-token-ttl-seconds", "21601"}}).status, 400);
  EXPECT_EQ(Put({{"x-aws-ec2-metadata-token-ttl-seconds", "6x"}}).status, 400);
  EXPECT_EQ(
      Put({{"x-aws-ec2-metadata-token-ttl-seconds", "60"}, {"x-forwarded-for", "1.2.3.4"}}).status,
      403);
  EXPECT_EQ(service_.Handle(view_, {"POST", "/latest/meta-data/", {}}).status, 405);
  view_.hop_limit = 3;
  EXPECT_EQ(Put({{"x-aws-ec2-metadata-token-ttl-seconds", "60"}}).ip_ttl, 3);

  // Forged, of another instance, expired: 401 even when tokens are optional.
  EXPECT_EQ(Get("/latest/meta-data/", {{"x-aws-ec2-metadata-token", "forged"}}).status, 401);
  std::string other = service_.MintToken("i-0000000000000000f", 60);
  EXPECT_EQ(Get("/latest/meta-data/", {{"x-aws-ec2-metadata-token", other}}).status, 401);
  std::string tampered = t.body;
  tampered[tampered.size() / 2] ^= 1;
  EXPECT_EQ(Get("/latest/meta-data/", {{"x-aws-ec2-metadata-token", tampered}}).status, 401);
  MetadataService other_key(clock_, "another key", nullptr);
  EXPECT_EQ(
      other_key.Handle(view_, {"GET", "/latest/meta-data/", {{"x-aws-ec2-metadata-token", t.body}}})
          .status,
      401);
  clock_.Advance(std::chrono::seconds(61));
  EXPECT_EQ(Get("/latest/meta-data/", {{"x-aws-ec2-metadata-token", t.body}}).status, 401);

  view_.http_tokens = "required";
  EXPECT_EQ(Get("/latest/meta-data/instance-id").status, 401);
  std::string fresh = service_.MintToken(view_.instance_id, 60);
  EXPECT_EQ(Get("/latest/meta-data/instance-id", {{"x-aws-ec2-metadata-token", fresh}}).body,
            view_.instance_id);
  view_.http_endpoint = "disabled";
  EXPECT_EQ(Get("/latest/meta-data/instance-id", {{"x-aws-ec2-metadata-token", fresh}}).status,
            403);
  EXPECT_EQ(Put({{"x-aws-ec2-metadata-token-ttl-seconds", "60"}}).status, 403);
}

TEST_F(MetadataTest, SignedIdentityDocument) {
  char tmpl[] = "/tmp/kumo-imds-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  auto signer = crypto::IdentitySigner::LoadOrCreate(tmpl, "eu-west-1");
  ASSERT_TRUE(signer.ok()) << signer.status();
  MetadataService signing(clock_, "k", &*signer);
  auto get = [&](const std::string& p) { return signing.Handle(view_, {"GET", p, {}}); };
  EXPECT_EQ(get("/latest/dynamic/instance-identity/").body, "document\npkcs7\nrsa2048\nsignature");
  Response doc = get("/latest/dynamic/instance-identity/document");
  ASSERT_EQ(doc.status, 200);
  auto j = nlohmann::json::parse(doc.body);
  EXPECT_EQ(j["instanceId"], view_.instance_id);
  EXPECT_EQ(j["accountId"], view_.account_id);
  EXPECT_EQ(j["privateIp"], view_.private_ip);
  EXPECT_EQ(j["availabilityZone"], "eu-west-1b");
  EXPECT_EQ(j["pendingTime"], "2023-11-14T22:13:20Z");
  EXPECT_TRUE(j["kernelId"].is_null());
  EXPECT_EQ(get("/latest/dynamic/instance-identity/signature").body,
            *signer->SignatureBase64(doc.body));
  Response p7 = get("/latest/dynamic/instance-identity/pkcs7");
  EXPECT_EQ(p7.status, 200);
  EXPECT_TRUE(Base64Decode(absl::StrReplaceAll(p7.body, {{"\n", ""}})).has_value());
  EXPECT_EQ(Get("/latest/dynamic/instance-identity/pkcs7").status, 404);  // no signer
  (void)RemoveTree(tmpl);
}

TEST(ViewOfTest, ReadsTheStoredRecord) {
  store::Resource r;
  r.id = "i-0123456789abcdef0";
  r.account_id = "111111111111";
  r.region = "us-east-1";
  r.data = {
      {"private_ip", "172.31.0.4"},
      {"user_data", Base64Encode("hi")},
      {"groups", {{{"id", "sg-1"}, {"name", "default"}}}},
      {"metadata_options", {{"http_tokens", "required"}, {"hop_limit", 2}, {"tags", "enabled"}}}};
  InstanceView v = ViewOf(r, {{r.id, "instance", "Name", "x"}});
  EXPECT_EQ(v.user_data, "hi");
  EXPECT_EQ(v.domain, "ec2.internal");
  EXPECT_EQ(v.http_tokens, "required");
  EXPECT_EQ(v.hop_limit, 2);
  EXPECT_TRUE(v.tags_in_metadata);
  EXPECT_EQ(v.tags.at("Name"), "x");
  EXPECT_EQ(v.groups.at(0).second, "default");
}

}  // namespace
}  // namespace kumo::imds
