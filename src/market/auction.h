// The spot market's `auction` mode (specs/spot.md §4.1): a uniform-price, sealed-bid (K+1)-th
// price auction with a reserve. Pure computation over one pool, so that one clearing round can
// be benchmarked and unit-tested without a store or a host.
//
// Money is integer micro-dollars (1e-6 USD): prices are compared and billed exactly, and EC2's
// finest published step (0.0001 USD) is a whole number of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kumo::market {

using Micros = int64_t;

// One spot request for one instance of the pool's type (EC2 makes InstanceCount requests).
struct Bid {
  std::string request_id;
  Micros max_price = 0;
  int64_t create_ms = 0;  // CreateTime: earlier wins ties
};

struct Clearing {
  Micros price = 0;  // the pool's spot price: max(reserve, highest unfulfilled bid)
  // Request ids: those that hold (or get) a slot, and those that do not, each in rank order
  // (highest bid first, then oldest).
  std::vector<std::string> winners;
  std::vector<std::string> losers;
};

// supply: the slots spot may use (capacity left after on-demand); reserve: the floor price.
// Winners are the bids at or above the price, at most `supply` of them; losing bids at the price
// lose on CreateTime. A bid below the reserve never wins, even with slots to spare.
Clearing ClearAuction(std::vector<Bid> bids, int64_t supply, Micros reserve);

}  // namespace kumo::market
