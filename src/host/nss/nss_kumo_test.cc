#include <gtest/gtest.h>

#include "host/nss/kumo_name.h"

namespace {

std::string Decode(const char* name) {
  uint8_t a[4];
  if (!kumo_decode_public_name(name, a)) return "";
  return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
         std::to_string(a[3]);
}

TEST(KumoNameTest, DecodesPublicNames) {
  EXPECT_EQ(Decode("ec2-100-64-3-7.eu-west-1.compute.kumo"), "100.64.3.7");
  EXPECT_EQ(Decode("EC2-100-127-255-254.us-east-1.Compute.Kumo."), "100.127.255.254");
}

TEST(KumoNameTest, RefusesEverythingElse) {
  for (const char* bad :
       {"ec2-10-0-0-1.eu-west-1.compute.kumo",      // outside 100.64/10
        "ec2-100-128-0-1.eu-west-1.compute.kumo",   // outside 100.64/10
        "ec2-100-064-3-7.eu-west-1.compute.kumo",   // leading zero
        "ec2-100-64-3-256.eu-west-1.compute.kumo",  // > 255
        "ec2-100-64-3.eu-west-1.compute.kumo",      // three parts
        "ec2-100-64-3-7..compute.kumo",             // no region
        "ec2-100-64-3-7.eu_west.compute.kumo",      // bad region
        "ec2-100-64-3-7.eu-west-1.compute.internal", "ip-172-31-3-7.eu-west-1.compute.internal",
        "example.com", "", "ec2-1000-64-3-7.eu-west-1.compute.kumo"}) {
    EXPECT_EQ(Decode(bad), "") << bad;
  }
}

}  // namespace
