#include "services/filters.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "services/pagination.h"

namespace kumo::services {
namespace {

using nlohmann::json;

TEST(WildcardTest, Matches) {
  EXPECT_TRUE(WildcardMatch("abc", "abc"));
  EXPECT_FALSE(WildcardMatch("abc", "abcd"));
  EXPECT_TRUE(WildcardMatch("a*", "abcd"));
  EXPECT_TRUE(WildcardMatch("*d", "abcd"));
  EXPECT_TRUE(WildcardMatch("a*c*", "abcd"));
  EXPECT_TRUE(WildcardMatch("a?c?", "abcd"));
  EXPECT_FALSE(WildcardMatch("a?c", "abcd"));
  EXPECT_TRUE(WildcardMatch("*", ""));
  EXPECT_FALSE(WildcardMatch("?", ""));
  EXPECT_TRUE(WildcardMatch("a\\*b", "a*b"));
  EXPECT_FALSE(WildcardMatch("a\\*b", "axb"));
  EXPECT_TRUE(WildcardMatch("**a**b**", "xxaxxbxx"));
  // Pathological patterns stay fast (no exponential backtracking).
  EXPECT_FALSE(WildcardMatch("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST(FilterSetTest, AndAcrossNamesOrAcrossValues) {
  json filters = json::parse(R"([{"Name":"key-name","Values":["a*","zz"]},
                                 {"Name":"tag:env","Values":["prod"]}])");
  auto fs = FilterSet::Parse(filters, {"key-name"});
  ASSERT_TRUE(fs.ok()) << fs.status();
  FilterFields f = {{"key-name", "alpha"}};
  std::vector<store::Tag> prod = {{"key-1", "key-pair", "env", "prod"}};
  std::vector<store::Tag> dev = {{"key-1", "key-pair", "env", "dev"}};
  EXPECT_TRUE(fs->Matches(f, prod));
  EXPECT_FALSE(fs->Matches(f, dev));
  EXPECT_FALSE(fs->Matches({{"key-name", "beta"}}, prod));
  EXPECT_TRUE(fs->Matches({{"key-name", "zz"}}, prod));
}

TEST(FilterSetTest, TagKeyAndValue) {
  auto fs = FilterSet::Parse(json::parse(R"([{"Name":"tag-key","Values":["Own*"]}])"), {});
  ASSERT_TRUE(fs.ok());
  EXPECT_TRUE(fs->Matches({}, {{"r", "t", "Owner", "x"}}));
  EXPECT_FALSE(fs->Matches({}, {{"r", "t", "Name", "Owner"}}));
}

TEST(FilterSetTest, UnknownNamesAndEmptyValuesAreRefused) {
  EXPECT_FALSE(FilterSet::Parse(json::parse(R"([{"Name":"bogus","Values":["x"]}])"), {"a"}).ok());
  EXPECT_FALSE(FilterSet::Parse(json::parse(R"([{"Name":"a"}])"), {"a"}).ok());
  EXPECT_FALSE(
      FilterSet::Parse(json::parse(R"([{"Name":"tag:x","Values":["x"]}])"), {"a"}, false).ok());
  EXPECT_TRUE(FilterSet::Parse(json(), {"a"}).ok());
}

TEST(PaginationTest, PagesCoverEverythingOnce) {
  std::vector<std::string> items;
  for (int i = 0; i < 23; ++i) items.push_back(fmt::format("id-{:03d}", i));
  PageRequest req{5, ""};
  std::vector<std::string> seen;
  for (int guard = 0; guard < 10; ++guard) {
    auto b = DecodePage(req);
    ASSERT_TRUE(b.ok());
    std::string next;
    auto page = TakePage(
        items, *b, [](const std::string& s) { return s; }, &next);
    seen.insert(seen.end(), page.begin(), page.end());
    if (next.empty()) break;
    req.next_token = next;
  }
  EXPECT_EQ(seen, items);
}

TEST(PaginationTest, BadTokenAndRange) {
  EXPECT_FALSE(DecodePage({5, "not-a-token"}).ok());
  EXPECT_FALSE(ParsePageRequest(json{{"MaxResults", 2}}, 5, 1000).ok());
  EXPECT_TRUE(ParsePageRequest(json{{"MaxResults", 5}}, 5, 1000).ok());
}

}  // namespace
}  // namespace kumo::services
