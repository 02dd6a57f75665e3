#include "api/model.h"

#include <gtest/gtest.h>

#include "common/errors.h"

namespace kumo::api {
namespace {

using nlohmann::json;

const Ec2Model& M() { return Ec2Model::Embedded(); }

TEST(ModelTest, DecodesNestedListsAndStructures) {
  Params p = {{"Filter.1.Name", "key-name"}, {"Filter.1.Value.1", "a"},   {"Filter.1.Value.2", "b"},
              {"Filter.2.Name", "tag:x"},    {"Filter.2.Value.1", "y"},   {"KeyName.2", "second"},
              {"KeyName.1", "first"},        {"IncludePublicKey", "true"}};
  auto in = M().DecodeRequest("DescribeKeyPairs", p);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ((*in)["Filters"][0]["Name"], "key-name");
  EXPECT_EQ((*in)["Filters"][0]["Values"], json({"a", "b"}));
  EXPECT_EQ((*in)["KeyNames"], json({"first", "second"}));  // ordered by index
  EXPECT_EQ((*in)["IncludePublicKey"], true);
}

TEST(ModelTest, ErrorsAreEc2Codes) {
  EXPECT_EQ(Ec2CodeOf(M().DecodeRequest("DescribeKeyPairs", {{"Bogus", "1"}}).status()),
            "UnknownParameter");
  EXPECT_EQ(Ec2CodeOf(M().DecodeRequest("DescribeKeyPairs", {{"Filter.1.Bogus", "1"}}).status()),
            "UnknownParameter");
  EXPECT_EQ(Ec2CodeOf(M().DecodeRequest("CreateKeyPair", {}).status()), "MissingParameter");
  EXPECT_EQ(
      Ec2CodeOf(
          M().DecodeRequest("CreateKeyPair", {{"KeyName", "k"}, {"KeyType", "dsa"}}).status()),
      "InvalidParameterValue");
  EXPECT_EQ(Ec2CodeOf(M().DecodeRequest("DescribeTags", {{"MaxResults", "ten"}}).status()),
            "InvalidParameterValue");
  EXPECT_EQ(Ec2CodeOf(M().DecodeRequest("DescribeKeyPairs", {{"DryRun", "maybe"}}).status()),
            "InvalidParameterValue");
  EXPECT_EQ(Ec2CodeOf(M().DecodeRequest("DescribeKeyPairs", {{"KeyName.0", "x"}}).status()),
            "InvalidParameterValue");
  EXPECT_EQ(
      Ec2CodeOf(M().DecodeRequest("DescribeKeyPairs", {{"KeyName.99999999999", "x"}}).status()),
      "InvalidParameterValue");
  EXPECT_EQ(Ec2CodeOf(M().DecodeRequest("DescribeKeyPairs", {{"KeyName", "x"}}).status()),
            "InvalidParameterValue");
  EXPECT_EQ(
      Ec2CodeOf(M().DecodeRequest("ImportKeyPair", {{"KeyName", "x"}, {"PublicKeyMaterial", "!!"}})
                    .status()),
      "InvalidParameterValue");
}

TEST(ModelTest, DeeplyNestedNamesAreRefusedNotRecursed) {
  std::string name = "Filter";
  for (int i = 0; i < 500; ++i) name += ".1";
  EXPECT_EQ(Ec2CodeOf(M().DecodeRequest("DescribeKeyPairs", {{name, "x"}}).status()),
            "UnknownParameter");
}

TEST(ModelTest, RendersOutputShapes) {
  json result = {
      {"KeyPairs",
       {{{"KeyName", "a<b"}, {"KeyPairId", "key-1"}, {"Tags", {{{"Key", "k"}, {"Value", "v"}}}}}}}};
  std::string xml = M().RenderResponse("DescribeKeyPairs", result, "req-1");
  EXPECT_NE(
      xml.find("<DescribeKeyPairsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"),
      std::string::npos);
  EXPECT_NE(xml.find("<requestId>req-1</requestId>"), std::string::npos);
  EXPECT_NE(xml.find("<keySet><item>"), std::string::npos);
  EXPECT_NE(xml.find("<keyName>a&lt;b</keyName>"), std::string::npos);
  EXPECT_NE(xml.find("<tagSet><item><key>k</key><value>v</value></item></tagSet>"),
            std::string::npos);
  std::string empty = M().RenderResponse("DescribeKeyPairs", {{"KeyPairs", json::array()}}, "r");
  EXPECT_NE(empty.find("<keySet/>"), std::string::npos);
  EXPECT_NE(M().RenderResponse("CreateTags", json::object(), "r").find("<return>true</return>"),
            std::string::npos);
}

}  // namespace
}  // namespace kumo::api
