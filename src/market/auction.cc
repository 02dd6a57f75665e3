#include "market/auction.h"

#include <algorithm>

namespace kumo::market {

Clearing ClearAuction(std::vector<Bid> bids, int64_t supply, Micros reserve) {
  // Rank: highest bid first; ties by CreateTime, then id so the order is total (deterministic
  // across restarts, whatever order the store returned).
  std::sort(bids.begin(), bids.end(), [](const Bid& a, const Bid& b) {
    if (a.max_price != b.max_price) return a.max_price > b.max_price;
    if (a.create_ms != b.create_ms) return a.create_ms < b.create_ms;
    return a.request_id < b.request_id;
  });
  Clearing out;
  size_t k = size_t(std::max<int64_t>(supply, 0));
  out.price = reserve;
  if (bids.size() > k) out.price = std::max(reserve, bids[k].max_price);
  out.winners.reserve(std::min(k, bids.size()));
  out.losers.reserve(bids.size() - std::min(k, bids.size()));
  for (size_t i = 0; i < bids.size(); ++i) {
    bool wins = i < k && bids[i].max_price >= out.price;
    (wins ? out.winners : out.losers).push_back(std::move(bids[i].request_id));
  }
  return out;
}

}  // namespace kumo::market
