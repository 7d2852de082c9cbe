#include "policy/episode.hpp"

#include <gtest/gtest.h>

namespace haven::policy {
namespace {

using namespace std::chrono_literals;
using Change = Episode::Change;

TEST(Episode, StartsWhenTheCounterMovesAndEndsAfterAQuietPeriod) {
    Episode e;
    const TimePoint t0{1000s};
    EXPECT_EQ(e.observe(0, t0, 10s), Change::None);
    EXPECT_EQ(e.observe(7, t0 + 1s, 10s), Change::Started); // counted before the first look: still counts
    EXPECT_EQ(e.observe(7, t0 + 11s, 10s), Change::Ended);
    EXPECT_EQ(e.counted(), 7u);
    EXPECT_EQ(e.observe(9, t0 + 12s, 10s), Change::Started);
    EXPECT_TRUE(e.active());
    EXPECT_EQ(e.observe(12, t0 + 13s, 10s), Change::None); // still on: no event per request
    EXPECT_EQ(e.observe(12, t0 + 22s, 10s), Change::None); // 9 s quiet
    EXPECT_EQ(e.observe(12, t0 + 23s, 10s), Change::Ended);
    EXPECT_FALSE(e.active());
    EXPECT_EQ(e.counted(), 5u); // 7 -> 12
    EXPECT_EQ(e.last_move() - e.started(), Duration(1s));
    EXPECT_EQ(e.observe(12, t0 + 60s, 10s), Change::None);
    EXPECT_EQ(e.observe(13, t0 + 61s, 10s), Change::Started); // a new episode
    EXPECT_EQ(e.counted(), 1u);
}

} // namespace
} // namespace haven::policy
