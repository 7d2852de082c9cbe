// GCRA and LimitTable (src/policy/rate_limit.cpp), on hand-made time points.
#include "policy/rate_limit.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace haven::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Kind = LimitDecision::Kind;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1);

Limit per(std::uint64_t n, Duration p, std::uint64_t burst = 0) { return Limit{n, p, burst}; }

int admitted(LimitTable& t, std::uint64_t key, int attempts, TimePoint at) {
    int n = 0;
    for (int i = 0; i < attempts; ++i) n += t.acquire(key, at).kind == Kind::Allowed ? 1 : 0;
    return n;
}

TEST(RateLimit, TenPerMinuteIsTheWholeQuotaAtOnceThenOneEverySixSeconds) {
    LimitTable t({per(10, minutes(1))}, 100);
    EXPECT_EQ(admitted(t, 1, 20, kT0), 10);
    const auto refused = t.acquire(1, kT0);
    EXPECT_EQ(refused.kind, Kind::Rejected);
    EXPECT_EQ(refused.wait, seconds(6)) << "Retry-After: the next slot";
    EXPECT_EQ(refused.remaining, 0u);
    EXPECT_EQ(admitted(t, 1, 5, kT0 + milliseconds(5999)), 0);
    EXPECT_EQ(admitted(t, 1, 5, kT0 + seconds(6)), 1);
    EXPECT_EQ(admitted(t, 1, 20, kT0 + seconds(60)), 9) << "a minute on: the burst, less the one taken at 6 s";
}

TEST(RateLimit, AnyWindowOfThePeriodAdmitsAtMostTwiceTheQuotaLessOne) {
    // The documented worst case at window edges: a burst, then the steady rate.
    LimitTable t({per(10, minutes(1))}, 100);
    int in_first_minute = 0;
    for (int ms = 0; ms < 60'000; ms += 100) in_first_minute += admitted(t, 7, 3, kT0 + milliseconds(ms));
    EXPECT_EQ(in_first_minute, 10 + 9);
}

TEST(RateLimit, BurstOnePacesEvenly) {
    LimitTable t({per(10, minutes(1), 1)}, 100);
    EXPECT_EQ(admitted(t, 1, 5, kT0), 1);
    EXPECT_EQ(admitted(t, 1, 5, kT0 + seconds(3)), 0);
    EXPECT_EQ(admitted(t, 1, 5, kT0 + seconds(6)), 1);
}

TEST(RateLimit, AllLimitsAreEnforcedTogetherAndARefusalCountsAgainstNone) {
    // The brief's defaults with one route's own: 200 per day, 50 per hour, 10 per minute.
    LimitTable t({per(200, std::chrono::hours(24)), per(50, std::chrono::hours(1)), per(10, minutes(1))}, 100);
    EXPECT_EQ(admitted(t, 1, 15, kT0), 10);
    // Then up to 10 a minute for an hour: the hourly limit (a burst of 50, then one every 72 s)
    // binds before the daily one: 50 + 3600 / 72 = 100 in the hour.
    int total = 10;
    for (int m = 1; m <= 60; ++m) total += admitted(t, 1, 10, kT0 + minutes(m));
    EXPECT_EQ(total, 100);
    const auto d = t.acquire(1, kT0 + minutes(60));
    EXPECT_EQ(d.kind, Kind::Rejected);
    EXPECT_EQ(d.limit, 1u) << "the hourly limit is the one that refused";
}

TEST(RateLimit, KeysAreIndependent) {
    LimitTable t({per(2, seconds(1))}, 100);
    EXPECT_EQ(admitted(t, 1, 5, kT0), 2);
    EXPECT_EQ(admitted(t, 2, 5, kT0), 2);
}

TEST(RateLimit, RemainingAndResetDescribeTheMostConstrainingLimit) {
    LimitTable t({per(100, minutes(1)), per(3, seconds(1))}, 100);
    auto d = t.acquire(1, kT0);
    EXPECT_EQ(d.kind, Kind::Allowed);
    EXPECT_EQ(d.limit, 1u);
    EXPECT_EQ(d.remaining, 2u);
    EXPECT_EQ(d.reset, milliseconds(333) + std::chrono::nanoseconds(333'333));
}

TEST(RateLimit, DelayInsteadOfRejectWithinTheBound) {
    // nginx limit_req burst semantics: over the limit, wait up to max_delay for the next slot.
    LimitTable t({per(2, seconds(1))}, 100, milliseconds(600));
    EXPECT_EQ(admitted(t, 1, 2, kT0), 2);
    auto d = t.acquire(1, kT0);
    EXPECT_EQ(d.kind, Kind::Delayed);
    EXPECT_EQ(d.wait, milliseconds(500));
    d = t.acquire(1, kT0);
    EXPECT_EQ(d.kind, Kind::Rejected) << "the next slot is 1 s away, beyond the 600 ms bound";
    EXPECT_EQ(d.wait, seconds(1));
}

TEST(RateLimit, MemoryIsBoundedByEvictingTheLeastRecentlyUsed) {
    LimitTable t({per(1, std::chrono::hours(1))}, 160);
    for (std::uint64_t k = 0; k < 10'000; ++k) t.acquire(k * 2654435761u, kT0);
    EXPECT_LE(t.keys(), 160u);
    EXPECT_GT(t.evictions(), 0u);
    // A key used just now survives a flood of others in its shard; an old one is forgotten.
    const std::uint64_t hot = 123456789;
    EXPECT_EQ(t.acquire(hot, kT0).kind, Kind::Allowed);
    EXPECT_EQ(t.acquire(hot, kT0).kind, Kind::Rejected);
    for (std::uint64_t k = 0; k < 5; ++k) t.acquire(9'000'000 + k, kT0);
    EXPECT_EQ(t.acquire(hot, kT0).kind, Kind::Rejected) << "still known";
    EXPECT_GT(LimitTable::bytes_per_key(), 64u);
    EXPECT_LT(LimitTable::bytes_per_key(), 256u);
}

TEST(RateLimit, OneLimitForEveryThread) {
    // 10 per minute is 10 per minute for the process, whatever the number of worker threads.
    LimitTable t({per(10, minutes(1))}, 100);
    std::atomic<int> passed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            for (int j = 0; j < 100; ++j) passed += t.acquire(42, kT0).kind == Kind::Allowed ? 1 : 0;
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(passed.load(), 10);
}

std::uint32_t unsynced_of(LimitTable& t, std::uint64_t key) {
    std::vector<LimitTable::Unsynced> out;
    t.take_unsynced(out);
    std::uint32_t n = 0;
    for (const auto& u : out) n += u.key == key ? u.admitted : 0;
    return n;
}

TEST(RateLimitShared, CountsWhatItAdmittedPerKeyUntilTaken) {
    LimitTable t({per(10, minutes(1))}, 100, Duration::zero(), true);
    ASSERT_TRUE(t.shared());
    EXPECT_EQ(admitted(t, 1, 4, kT0), 4);
    EXPECT_EQ(admitted(t, 2, 15, kT0), 10) << "a refusal is not counted";
    std::vector<LimitTable::Unsynced> out;
    t.take_unsynced(out);
    ASSERT_EQ(out.size(), 2u) << "each key listed once";
    std::uint32_t one = 0, two = 0;
    for (const auto& u : out) (u.key == 1 ? one : two) = u.admitted;
    EXPECT_EQ(one, 4u);
    EXPECT_EQ(two, 10u);
    EXPECT_EQ(unsynced_of(t, 1), 0u) << "taken: counting starts again";
    EXPECT_EQ(admitted(t, 1, 1, kT0), 1);
    EXPECT_EQ(unsynced_of(t, 1), 1u);
}

TEST(RateLimitShared, AMergedLaterTatRefusesWhatOthersSpent) {
    LimitTable t({per(10, minutes(1))}, 100, Duration::zero(), true);
    EXPECT_EQ(admitted(t, 7, 2, kT0), 2);
    // The instances together spent 9 of the 10: the common TAT is 9 intervals (54 s) ahead.
    std::array<Duration, kMaxLimitsPerTable> ahead{seconds(54)};
    t.merge(7, ahead, kT0);
    EXPECT_EQ(admitted(t, 7, 5, kT0), 1) << "one left of the common quota";
    // An earlier common TAT than the local one changes nothing.
    ahead[0] = seconds(1);
    t.merge(7, ahead, kT0);
    EXPECT_EQ(admitted(t, 7, 5, kT0), 0);
}

TEST(RateLimitShared, AFullListOfKeysCountsTheRestAsUntrackedWithoutAllocating) {
    // 16 keys per shard at most (max_keys / shards): a flood of keys overflows some shard's list.
    LimitTable t({per(100, minutes(1))}, 256, Duration::zero(), true);
    for (std::uint64_t k = 0; k < 4000; ++k) t.acquire(k * 0x9E3779B97F4A7C15ull, kT0);
    EXPECT_GT(t.untracked(), 0u);
    std::vector<LimitTable::Unsynced> out;
    t.take_unsynced(out);
    EXPECT_LE(out.size(), 256u);
    // Taken: the lists have room again.
    EXPECT_EQ(admitted(t, 424242, 1, kT0), 1);
    EXPECT_EQ(unsynced_of(t, 424242), 1u);
}

TEST(RateLimitShared, ALocalTableCountsNothing) {
    LimitTable t({per(10, minutes(1))}, 100);
    EXPECT_FALSE(t.shared());
    EXPECT_EQ(admitted(t, 1, 3, kT0), 3);
    EXPECT_EQ(unsynced_of(t, 1), 0u);
}

} // namespace
} // namespace haven::policy
