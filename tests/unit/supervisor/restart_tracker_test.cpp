// The restart backoff and crash-loop window, on explicit time points (no clock at all).
#include "supervisor/restart_tracker.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using haven::TimePoint;
using haven::supervisor::RestartParams;
using haven::supervisor::RestartTracker;

namespace {

RestartParams params() {
    RestartParams p;
    p.delay = 1s;
    p.max_delay = 8s;
    p.crash_restarts = 100; // out of the way unless a test wants it
    p.crash_window = 60s;
    p.crash_delay = 30s;
    return p;
}

const TimePoint kStart = TimePoint{} + 1h;

} // namespace

TEST(RestartTracker, DelayDoublesUpToTheCap) {
    RestartTracker t(params());
    std::vector<haven::Duration> delays;
    for (int i = 0; i < 6; ++i) delays.push_back(t.on_exit(kStart + std::chrono::minutes(i)).delay);
    EXPECT_EQ(delays, (std::vector<haven::Duration>{1s, 2s, 4s, 8s, 8s, 8s}));
    EXPECT_EQ(t.attempts(), 6u);
}

TEST(RestartTracker, AHealthyPeriodStartsTheBackoffOver) {
    RestartTracker t(params());
    t.on_exit(kStart);
    t.on_exit(kStart + 10s);
    EXPECT_EQ(t.on_exit(kStart + 20s).delay, 4s);
    EXPECT_FALSE(t.on_healthy()); // not in a crash loop: nothing to report
    const auto d = t.on_exit(kStart + 200s);
    EXPECT_EQ(d.delay, 1s);
    EXPECT_EQ(d.attempt, 1u);
}

TEST(RestartTracker, NRestartsWithinTheWindowAreACrashLoop) {
    auto p = params();
    p.crash_restarts = 3;
    RestartTracker t(p);
    EXPECT_FALSE(t.on_exit(kStart).crashloop);
    EXPECT_FALSE(t.on_exit(kStart + 1s).crashloop);
    const auto third = t.on_exit(kStart + 3s);
    EXPECT_TRUE(third.crashloop);
    EXPECT_TRUE(third.entered_crashloop);
    EXPECT_EQ(third.in_window, 3u);
    EXPECT_EQ(third.delay, 30s); // max(4s, crash_loop.delay)
    const auto fourth = t.on_exit(kStart + 40s);
    EXPECT_TRUE(fourth.crashloop);
    EXPECT_FALSE(fourth.entered_crashloop); // reported once
    EXPECT_EQ(fourth.delay, 30s);
    EXPECT_TRUE(t.on_healthy()); // a healthy period ends the crash loop
    EXPECT_FALSE(t.crashloop());
    EXPECT_EQ(t.on_exit(kStart + 500s).delay, 1s);
}

TEST(RestartTracker, RestartsOlderThanTheWindowDoNotCount) {
    auto p = params();
    p.crash_restarts = 3;
    p.crash_window = 10s;
    RestartTracker t(p);
    t.on_exit(kStart);
    t.on_exit(kStart + 9s);
    const auto d = t.on_exit(kStart + 12s); // the first left the window at kStart + 10s
    EXPECT_FALSE(d.crashloop);
    EXPECT_EQ(d.in_window, 2u);
    EXPECT_TRUE(t.on_exit(kStart + 13s).entered_crashloop);
}

TEST(RestartTracker, HugeAttemptCountsStayAtTheCap) {
    RestartTracker t(params());
    haven::supervisor::RestartDecision d;
    for (int i = 0; i < 200; ++i) d = t.on_exit(kStart + std::chrono::hours(i));
    EXPECT_EQ(d.delay, 8s);
}
