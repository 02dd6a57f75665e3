#include "market/auction.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace kumo::market {
namespace {

using ::testing::ElementsAre;

constexpr Micros kUsd = 1'000'000;

TEST(AuctionTest, PriceIsTheHighestUnfulfilledBid) {
  // K = 2 slots, bids 0.50, 0.40, 0.30: the two highest win and pay the third bid.
  auto c = ClearAuction({{"a", kUsd / 2, 1}, {"b", kUsd * 4 / 10, 2}, {"c", kUsd * 3 / 10, 3}}, 2,
                        kUsd / 10);
  EXPECT_EQ(c.price, kUsd * 3 / 10);
  EXPECT_THAT(c.winners, ElementsAre("a", "b"));
  EXPECT_THAT(c.losers, ElementsAre("c"));
}

TEST(AuctionTest, WithSlotsToSpareThePriceIsTheReserveAndLowBidsStillLose) {
  auto c = ClearAuction({{"a", 500, 1}, {"low", 200, 2}}, 10, 300);
  EXPECT_EQ(c.price, 300);
  EXPECT_THAT(c.winners, ElementsAre("a"));
  EXPECT_THAT(c.losers, ElementsAre("low"));
}

TEST(AuctionTest, TiesAtThePriceGoByCreateTime) {
  // K = 2; bids 5, 3 (newer), 3 (older): the price is 3 and the older 3 wins.
  auto c = ClearAuction({{"top", 5, 1}, {"new", 3, 9}, {"old", 3, 4}}, 2, 1);
  EXPECT_EQ(c.price, 3);
  EXPECT_THAT(c.winners, ElementsAre("top", "old"));
  EXPECT_THAT(c.losers, ElementsAre("new"));
}

TEST(AuctionTest, NoSupplyMeansNobodyWinsAndTheTopBidSetsThePrice) {
  auto c = ClearAuction({{"a", 700, 1}, {"b", 900, 2}}, 0, 300);
  EXPECT_EQ(c.price, 900);
  EXPECT_TRUE(c.winners.empty());
  EXPECT_THAT(c.losers, ElementsAre("b", "a"));
  EXPECT_EQ(ClearAuction({}, -3, 300).price, 300);
}

TEST(AuctionTest, TheResultDoesNotDependOnInputOrder) {
  std::vector<Bid> bids;
  for (int i = 0; i < 50; ++i) bids.push_back({"r" + std::to_string(i), (i * 37) % 11, i % 7});
  auto forward = ClearAuction(bids, 20, 2);
  std::reverse(bids.begin(), bids.end());
  auto backward = ClearAuction(bids, 20, 2);
  EXPECT_EQ(forward.price, backward.price);
  EXPECT_EQ(forward.winners, backward.winners);
  EXPECT_EQ(forward.winners.size(), 20u);
}

}  // namespace
}  // namespace kumo::market
