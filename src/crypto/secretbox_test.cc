#include "crypto/secretbox.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace kumo::crypto {
namespace {

TEST(SecretBoxTest, SealOpenRoundTrip) {
  auto box = SecretBox::FromKey(std::string(32, 'k'));
  ASSERT_TRUE(box.ok());
  std::string sealed = box->Seal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  EXPECT_EQ(sealed.find("wJalr"), std::string::npos);
  auto opened = box->Open(sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  // Two seals of one secret differ (random nonce).
  EXPECT_NE(box->Seal("x"), box->Seal("x"));
}

TEST(SecretBoxTest, WrongKeyOrTamperFails) {
  auto a = SecretBox::FromKey(std::string(32, 'a'));
  auto b = SecretBox::FromKey(std::string(32, 'b'));
  std::string sealed = a->Seal("secret");
  EXPECT_FALSE(b->Open(sealed).ok());
  std::string tampered = sealed;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(a->Open(tampered).ok());
  EXPECT_FALSE(a->Open("garbage").ok());
  EXPECT_FALSE(SecretBox::FromKey("short").ok());
}

TEST(SecretBoxTest, KeyFileCreatedOnceWith0600) {
  char dir[] = "/tmp/kumo-secretbox-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/secret.key";
  auto first = SecretBox::FromKeyFile(path);
  ASSERT_TRUE(first.ok()) << first.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = SecretBox::FromKeyFile(path);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second->Open(first->Seal("same key")), "same key");
  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace kumo::crypto
