#include "common/encoding.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/hash.h"
#include "common/ids.h"

namespace kumo {
namespace {

TEST(EncodingTest, Base64RoundTrip) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_FALSE(Base64Decode("Zm9v!").has_value());
  EXPECT_FALSE(Base64Decode("Zm8=Zm8=").has_value());
  EXPECT_EQ(*Base64Decode("Zm9v\nYmFy"), "foobar");
}

TEST(EncodingTest, PercentDecode) {
  EXPECT_EQ(*PercentDecode("a%20b+c", true), "a b c");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
  EXPECT_FALSE(PercentDecode("%2", true).has_value());
  EXPECT_FALSE(PercentDecode("%", true).has_value());
  EXPECT_FALSE(PercentDecode("%zz", true).has_value());
}

TEST(EncodingTest, UriEncode) {
  EXPECT_EQ(UriEncode("a b/c~", true), "a%20b%2Fc~");
  EXPECT_EQ(UriEncode("a b/c", false), "a%20b/c");
}

TEST(EncodingTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8("héllo ✓ 😀"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\x80"));      // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));      // truncated
}

TEST(HashTest, KnownVectors) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(HexEncode(HmacSha256("key", "The quick brown fox jumps over the lazy dog")),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(ClockTest, Formats) {
  TimePoint t;
  ASSERT_TRUE(ParseAmzDate("20150830T123600Z", &t));
  EXPECT_EQ(FormatAmzDate(t), "20150830T123600Z");
  EXPECT_EQ(FormatIso8601(t), "2015-08-30T12:36:00.000Z");
  EXPECT_FALSE(ParseAmzDate("2015-08-30T12:36:00Z", &t));
  EXPECT_FALSE(ParseAmzDate("20151330T123600Z", &t));
}

TEST(IdsTest, Shapes) {
  RandomIdGenerator ids;
  std::string id = ids.ResourceId("key");
  EXPECT_EQ(id.size(), 4u + 17u);
  EXPECT_EQ(ids.AccountId().size(), 12u);
  EXPECT_EQ(ids.AccessKeyId().size(), 20u);
  EXPECT_EQ(ids.SecretAccessKey().size(), 40u);
  EXPECT_EQ(ResourceTypeOfId(id), "key-pair");
  EXPECT_EQ(ResourceTypeOfId("i-0123"), "instance");
  EXPECT_EQ(ResourceTypeOfId("bogus"), "");
}

}  // namespace
}  // namespace kumo
