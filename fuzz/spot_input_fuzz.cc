// The spot API's own parsers of client text: prices (SpotPrice, MaxPrice) and timestamps
// (ValidFrom, ValidUntil, StartTime, EndTime). Whatever parses must round-trip exactly.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "services/spot.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  kumo::market::Micros m = 0, again = 0;
  if (kumo::services::ParsePrice(text, &m)) {
    if (m < 0 || !kumo::services::ParsePrice(kumo::services::FormatPrice(m), &again) ||
        again != m) {
      __builtin_trap();
    }
  }
  kumo::TimePoint t, back;
  if (kumo::ParseIso8601(text, &t)) {
    if (!kumo::ParseIso8601(kumo::FormatIso8601(t), &back) ||
        kumo::UnixMillis(back) != kumo::UnixMillis(t)) {
      __builtin_trap();
    }
  }
  return 0;
}
