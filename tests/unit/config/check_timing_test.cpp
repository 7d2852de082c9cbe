// check_timing (src/config/check_timing.cpp): the worst-case detection and return times that
// `haven check` prints and docs/failover.md derives.
#include "config/check_timing.hpp"

#include <gtest/gtest.h>

namespace haven::config {
namespace {

using std::chrono::milliseconds;

TEST(CheckTiming, TheDefaults) {
    HealthCheck h; // 5s, timeout 2s, fast 1s, down 5s, rise 2, fall 3, jitter 10%
    const auto t = check_timing(h);
    EXPECT_EQ(t.detect_down, milliseconds(5500 + 2 * 1100 + 3 * 2000));
    EXPECT_EQ(t.return_up, milliseconds(5500 + 1 * 1100 + 2 * 2000));
    EXPECT_EQ(t.return_after_refusal, milliseconds(1100 + 1 * 1100 + 2 * 2000));
}

TEST(CheckTiming, OneSecondIntervalWithDerivedDefaults) {
    HealthCheck h;
    h.interval = milliseconds(1000);
    h.fall = 2;
    derive_check_defaults(h, {});
    const auto t = check_timing(h);
    EXPECT_EQ(t.detect_down, milliseconds(1100 + 550 + 2 * 1000));
    EXPECT_EQ(t.return_up, milliseconds(1100 + 550 + 2 * 1000));
}

TEST(CheckTiming, NoJitterAndSingleChecks) {
    HealthCheck h;
    h.interval = milliseconds(200);
    h.fast_interval = milliseconds(100);
    h.down_interval = milliseconds(300);
    h.timeout = milliseconds(50);
    h.rise = h.fall = 1;
    h.jitter = 0;
    const auto t = check_timing(h);
    EXPECT_EQ(t.detect_down, milliseconds(250));
    EXPECT_EQ(t.return_up, milliseconds(350));
    EXPECT_EQ(t.return_after_refusal, milliseconds(150));
}

} // namespace
} // namespace haven::config
