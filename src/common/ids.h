// EC2-shaped identifiers: a prefix and 17 lower-case hex digits ("key-0a1b2c3d4e5f60718"), request
// ids as UUIDs, account ids of 12 digits, access key ids "AKIA" + 16 base32 characters.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

namespace kumo {

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  virtual std::string ResourceId(std::string_view prefix) = 0;
  virtual std::string RequestId() = 0;
  virtual std::string AccountId() = 0;
  virtual std::string AccessKeyId() = 0;
  virtual std::string SecretAccessKey() = 0;
};

class RandomIdGenerator : public IdGenerator {
 public:
  std::string ResourceId(std::string_view prefix) override;
  std::string RequestId() override;
  std::string AccountId() override;
  std::string AccessKeyId() override;
  std::string SecretAccessKey() override;
};

// Deterministic ids for tests: prefix + a zero-padded counter.
class SequentialIdGenerator : public IdGenerator {
 public:
  std::string ResourceId(std::string_view prefix) override;
  std::string RequestId() override;
  std::string AccountId() override;
  std::string AccessKeyId() override;
  std::string SecretAccessKey() override;

 private:
  std::atomic<uint64_t> next_{1};
};

// The resource type EC2 reports for an id ("key-…" → "key-pair"), or "" when unknown.
std::string_view ResourceTypeOfId(std::string_view id);

}  // namespace kumo
