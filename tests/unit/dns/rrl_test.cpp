// Response-rate limiting on a fake clock: the rate and burst per subnet, slip, refill, exempt
// ranges, IPv6 grouping, and a table that never grows past its size.
#include "dns/rrl.hpp"

#include <gtest/gtest.h>

#include <array>

namespace haven::dns {
namespace {

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

config::DnsRrl params(std::uint32_t rate, std::uint32_t slip = 2) {
    config::DnsRrl p;
    p.responses_per_second = rate;
    p.slip = slip;
    p.max_subnets = 1024;
    return p;
}

std::array<std::uint8_t, 16> v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) { return {a, b, c, d}; }

TEST(Rrl, AllowsTheRateThenDropsAndSlipsEveryNth) {
    RateLimiter rl(params(5, 2));
    const auto a = v4(192, 0, 2, 1);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(rl.check(false, a.data(), t0), RrlVerdict::Send) << i;
    EXPECT_EQ(rl.check(false, a.data(), t0), RrlVerdict::Drop);
    EXPECT_EQ(rl.check(false, a.data(), t0), RrlVerdict::Slip);
    EXPECT_EQ(rl.check(false, a.data(), t0), RrlVerdict::Drop);
    EXPECT_EQ(rl.check(false, a.data(), t0), RrlVerdict::Slip);
}

TEST(Rrl, RefillsAtTheRateUpToOneSecondsWorth) {
    RateLimiter rl(params(10, 0));
    const auto a = v4(192, 0, 2, 1);
    for (int i = 0; i < 10; ++i) rl.check(false, a.data(), t0);
    EXPECT_EQ(rl.check(false, a.data(), t0), RrlVerdict::Drop) << "slip 0: never truncated";
    const auto later = t0 + std::chrono::milliseconds(100); // one response's worth
    EXPECT_EQ(rl.check(false, a.data(), later), RrlVerdict::Send);
    EXPECT_EQ(rl.check(false, a.data(), later), RrlVerdict::Drop);
    const auto much_later = later + std::chrono::seconds(30);
    int sent = 0;
    for (int i = 0; i < 20; ++i) sent += rl.check(false, a.data(), much_later) == RrlVerdict::Send ? 1 : 0;
    EXPECT_EQ(sent, 10) << "a long pause refills no more than one second's worth";
}

TEST(Rrl, CountsPerSubnet) {
    RateLimiter rl(params(1, 0));
    const auto a = v4(192, 0, 2, 1), same24 = v4(192, 0, 2, 200), other = v4(192, 0, 3, 1);
    EXPECT_EQ(rl.check(false, a.data(), t0), RrlVerdict::Send);
    EXPECT_EQ(rl.check(false, same24.data(), t0), RrlVerdict::Drop) << "the same /24";
    EXPECT_EQ(rl.check(false, other.data(), t0), RrlVerdict::Send);

    std::array<std::uint8_t, 16> x{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x01};
    std::array<std::uint8_t, 16> y = x, z = x;
    y[15] = 9;     // same /56
    z[6] = 1;      // another /56
    EXPECT_EQ(rl.check(true, x.data(), t0), RrlVerdict::Send);
    EXPECT_EQ(rl.check(true, y.data(), t0), RrlVerdict::Drop);
    EXPECT_EQ(rl.check(true, z.data(), t0), RrlVerdict::Send);
}

TEST(Rrl, ExemptRangesAndZeroRateAreNeverLimited) {
    auto p = params(1, 0);
    p.exempt = {"127.0.0.0/8", "2001:db8::/32"};
    RateLimiter rl(p);
    const auto lo = v4(127, 0, 0, 1);
    std::array<std::uint8_t, 16> doc{0x20, 0x01, 0x0d, 0xb8};
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(rl.check(false, lo.data(), t0), RrlVerdict::Send);
        EXPECT_EQ(rl.check(true, doc.data(), t0), RrlVerdict::Send);
    }
    RateLimiter off(params(0));
    EXPECT_FALSE(off.enabled());
    for (int i = 0; i < 100; ++i) EXPECT_EQ(off.check(false, lo.data(), t0), RrlVerdict::Send);
}

TEST(Rrl, TheTableStaysWithinItsSize) {
    RateLimiter rl(params(1, 0));
    for (int i = 0; i < 20'000; ++i) {
        const auto a = v4(10, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 1);
        EXPECT_EQ(rl.check(false, a.data(), t0 + std::chrono::microseconds(i)), RrlVerdict::Send) << "a new subnet has a full bucket";
    }
    EXPECT_LE(rl.tracked(), 1024u);
    EXPECT_GT(rl.tracked(), 900u);
}

} // namespace
} // namespace haven::dns
