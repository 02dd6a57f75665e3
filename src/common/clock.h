// Time is injected everywhere (SigV4 skew, create times, later the market and billing) so tests
// can step it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace kumo {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

class ManualClock : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_ns_(ToNs(start)) {}
  TimePoint Now() const override { return TimePoint(std::chrono::nanoseconds(now_ns_.load())); }
  void Advance(std::chrono::nanoseconds d) { now_ns_ += d.count(); }
  void Set(TimePoint t) { now_ns_ = ToNs(t); }

 private:
  static int64_t ToNs(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
  std::atomic<int64_t> now_ns_;
};

// "2016-11-15T10:04:05.000Z", the form EC2 uses in XML responses.
std::string FormatIso8601(TimePoint t);
// "20150830T123600Z", SigV4's X-Amz-Date.
std::string FormatAmzDate(TimePoint t);
// Parses "20150830T123600Z"; false on anything else.
bool ParseAmzDate(const std::string& s, TimePoint* out);
int64_t UnixMillis(TimePoint t);
TimePoint FromUnixMillis(int64_t ms);

}  // namespace kumo
