#include "api/query.h"

#include <gtest/gtest.h>

#include "common/errors.h"

namespace kumo::api {
namespace {

TEST(QueryTest, ParsesFormPairsInOrder) {
  Params p;
  ASSERT_TRUE(
      AppendForm("Action=DescribeKeyPairs&KeyName.1=a%20b&KeyName.2=c+d&Empty=&Flag", &p).ok());
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[1], (std::pair<std::string, std::string>{"KeyName.1", "a b"}));
  EXPECT_EQ(p[2].second, "c d");
  EXPECT_EQ(p[3].second, "");
  EXPECT_EQ(p[4].first, "Flag");
  EXPECT_EQ(*FindParam(p, "Action"), "DescribeKeyPairs");
  EXPECT_EQ(FindParam(p, "Nope"), nullptr);
}

TEST(QueryTest, RefusesBadInput) {
  Params p;
  EXPECT_EQ(Ec2CodeOf(AppendForm("a=%zz", &p)), "InvalidParameterValue");
  p.clear();
  EXPECT_FALSE(AppendForm("a=%ff%fe", &p).ok());  // invalid UTF-8
  p.clear();
  EXPECT_FALSE(AppendForm("=x", &p).ok());
  p.clear();
  ASSERT_TRUE(AppendForm("a=1&a=2", &p).ok());
  EXPECT_FALSE(CheckUnique(p).ok());
  p.clear();
  EXPECT_FALSE(AppendForm(std::string(300, 'x') + "=1", &p).ok());
}

TEST(QueryTest, TooManyParametersIsACleanError) {
  std::string body;
  for (int i = 0; i < 10000; ++i) body += "P" + std::to_string(i) + "=v&";
  Params p;
  absl::Status st = AppendForm(body, &p);
  EXPECT_EQ(Ec2CodeOf(st), "InvalidParameterValue");
}

TEST(QueryTest, EmptyAndTrailingAmpersands) {
  Params p;
  ASSERT_TRUE(AppendForm("", &p).ok());
  EXPECT_TRUE(p.empty());
  ASSERT_TRUE(AppendForm("&&a=1&&", &p).ok());
  EXPECT_EQ(p.size(), 1u);
}

}  // namespace
}  // namespace kumo::api
