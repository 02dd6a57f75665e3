#include "common/clock.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <ctime>

namespace kumo {

std::string FormatIso8601(TimePoint t) {
  int64_t ms = UnixMillis(t);
  time_t secs = time_t(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms % 1000));
}

std::string FormatAmzDate(TimePoint t) {
  time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm;
  gmtime_r(&secs, &tm);
  return fmt::format("{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

bool ParseAmzDate(const std::string& s, TimePoint* out) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
  for (int i : {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  auto num = [&](int pos, int len) { return std::stoi(s.substr(pos, len)); };
  struct tm tm = {};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  // Bounded years keep timegm and the chrono conversions far from overflow on hostile input.
  if (tm.tm_year < 70 || tm.tm_year > 300 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return false;
  }
  *out = std::chrono::system_clock::from_time_t(timegm(&tm));
  return true;
}

bool ParseIso8601(const std::string& s, TimePoint* out) {
  // Epoch seconds, which botocore accepts for timestamps and some scripts send.
  constexpr int64_t kYear2200 = 7258118400;  // the dates below are bounded there too
  if (!s.empty() && s.size() <= 12 && s.find_first_not_of("0123456789") == std::string::npos) {
    int64_t secs = std::stoll(s);
    if (secs >= kYear2200) return false;
    *out = FromUnixMillis(secs * 1000);
    return true;
  }
  int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
  if (s.size() < 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 ||
      used != 10) {
    return false;
  }
  size_t pos = 10;
  int64_t frac_ms = 0, offset_s = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &used) != 3 || used != 8) {
      return false;
    }
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      size_t digits = 0;
      for (++pos; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos) {
        if (digits++ < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
      }
      if (digits == 0) return false;
      for (; digits < 3; ++digits) frac_ms *= 10;
    }
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
      int oh, om;
      if (s.size() - pos != 6 || std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) {
        return false;
      }
      offset_s = (s[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
      pos = s.size();
    } else if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
      ++pos;
    }
  }
  if (pos != s.size()) return false;
  if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      sec > 60) {
    return false;
  }
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t secs = int64_t(timegm(&tm)) - offset_s;
  if (secs < 0 || secs >= kYear2200) return false;
  *out = FromUnixMillis(secs * 1000 + frac_ms);
  return true;
}

int64_t UnixMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint FromUnixMillis(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

}  // namespace kumo
