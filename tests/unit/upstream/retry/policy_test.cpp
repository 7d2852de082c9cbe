// The retry rules (src/upstream/retry/policy.cpp) as a table: one row per rule and per retry_on item.
#include "upstream/retry/policy.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace haven::upstream {
namespace {

const char* name(RetryDecision d) {
    switch (d) {
    case RetryDecision::Retry: return "Retry";
    case RetryDecision::No: return "No";
    case RetryDecision::BudgetExhausted: return "BudgetExhausted";
    case RetryDecision::LimitReached: return "LimitReached";
    case RetryDecision::NoServer: return "NoServer";
    }
    return "?";
}

constexpr std::uint32_t kDefaultOn = RetryParams{}.retry_on;
constexpr std::uint32_t kAll5xx = RetryOn500 | RetryOn502 | RetryOn503 | RetryOn504;

AttemptFailure connect_failure() { return {FailureKind::ConnectFailure, 0, false}; }
AttemptFailure reset(bool sent = true) { return {FailureKind::Reset, 0, sent}; }
AttemptFailure timeout(bool sent = true) { return {FailureKind::Timeout, 0, sent}; }
AttemptFailure status(int s) { return {FailureKind::Status, s, true}; }

struct Row {
    const char* what;
    std::uint32_t retry_on;
    bool retry_non_idempotent;
    AttemptFailure failure;
    RetryContext context; // retries_done, idempotent, body_replayable, response_started
    RetryDecision expected;
};

void PrintTo(const Row& r, std::ostream* os) { *os << r.what; }

constexpr RetryContext kGet{0, true, true, false};
constexpr RetryContext kPost{0, false, true, false};

class DecideRetry : public ::testing::TestWithParam<Row> {};

TEST_P(DecideRetry, FollowsTheRules) {
    const Row& r = GetParam();
    RetryParams p;
    p.retries = 2;
    p.retry_on = r.retry_on;
    p.retry_non_idempotent = r.retry_non_idempotent;
    const RetryDecision got = decide_retry(p, r.failure, r.context);
    EXPECT_EQ(got, r.expected) << r.what << ": got " << name(got) << ", expected " << name(r.expected);
}

using RD = RetryDecision;
INSTANTIATE_TEST_SUITE_P(
    Table, DecideRetry,
    ::testing::Values(
        // Each retry_on item covers its failure class, and only it.
        Row{"connect failure, covered", RetryOnConnectFailure, false, connect_failure(), kGet, RD::Retry},
        Row{"connect failure, not covered", kDefaultOn & ~RetryOnConnectFailure, false, connect_failure(), kGet, RD::No},
        Row{"reset, covered", RetryOnReset, false, reset(), kGet, RD::Retry},
        Row{"reset, not covered", kDefaultOn & ~RetryOnReset, false, reset(), kGet, RD::No},
        Row{"timeout, covered", RetryOnTimeout, false, timeout(), kGet, RD::Retry},
        Row{"timeout, not covered", kDefaultOn & ~RetryOnTimeout, false, timeout(), kGet, RD::No},
        Row{"500, covered", RetryOn500, false, status(500), kGet, RD::Retry},
        Row{"500, not in defaults", kDefaultOn, false, status(500), kGet, RD::No},
        Row{"502, covered", RetryOn502, false, status(502), kGet, RD::Retry},
        Row{"503 when only 502 configured", RetryOn502, false, status(503), kGet, RD::No},
        Row{"503, covered", RetryOn503, false, status(503), kGet, RD::Retry},
        Row{"504, covered", RetryOn504, false, status(504), kGet, RD::Retry},
        Row{"504 when only 503 configured", RetryOn503, false, status(504), kGet, RD::No},
        Row{"501 with all named 5xx but no catch-all", kAll5xx, false, status(501), kGet, RD::No},
        Row{"5xx catch-all covers 501", RetryOn5xx, false, status(501), kGet, RD::Retry},
        Row{"5xx catch-all covers 599", RetryOn5xx, false, status(599), kGet, RD::Retry},
        Row{"5xx catch-all does not cover 404", RetryOn5xx, false, status(404), kGet, RD::No},
        Row{"5xx catch-all does not cover 600", RetryOn5xx, false, status(600), kGet, RD::No},
        Row{"reset not covered by status items", RetryOn5xx, false, reset(), kGet, RD::No},
        Row{"nothing configured", 0, false, connect_failure(), kGet, RD::No},
        // Non-idempotent requests.
        Row{"POST connect failure", kDefaultOn, false, connect_failure(), kPost, RD::Retry},
        Row{"POST reset after sending", kDefaultOn, false, reset(true), kPost, RD::No},
        Row{"POST reset before sending", kDefaultOn, false, reset(false), kPost, RD::Retry},
        Row{"POST timeout after sending", kDefaultOn, false, timeout(true), kPost, RD::No},
        Row{"POST 503", kDefaultOn, false, status(503), kPost, RD::No},
        Row{"POST reset with retry_non_idempotent", kDefaultOn, true, reset(true), kPost, RD::Retry},
        Row{"POST 503 with retry_non_idempotent", kDefaultOn, true, status(503), kPost, RD::Retry},
        // Body replay.
        Row{"GET, body not replayable, after send", kDefaultOn, false, reset(true), {0, true, false, false}, RD::No},
        Row{"GET, body not replayable, connect failure", kDefaultOn, false, connect_failure(), {0, true, false, false}, RD::Retry},
        Row{"POST non-replayable with retry_non_idempotent", kDefaultOn, true, reset(true), {0, false, false, false}, RD::No},
        // Response started: never, whatever else holds.
        Row{"response started", kDefaultOn, false, reset(true), {0, true, true, true}, RD::No},
        Row{"response started, catch-all, under limit", RetryOn5xx, true, status(502), {0, true, true, true}, RD::No},
        // The count.
        Row{"first retry of two", kDefaultOn, false, reset(), {1, true, true, false}, RD::Retry},
        Row{"retries exhausted", kDefaultOn, false, reset(), {2, true, true, false}, RD::LimitReached},
        Row{"retries over the limit", kDefaultOn, false, connect_failure(), {5, true, true, false}, RD::LimitReached},
        // Order: an unsafe retry is No even with the count exhausted.
        Row{"POST reset after send, exhausted", kDefaultOn, false, reset(true), {2, false, true, false}, RD::No},
        Row{"not covered, exhausted", RetryOn502, false, status(503), {2, true, true, false}, RD::No}));

TEST(DecideRetryCount, ZeroRetriesMeansLimitReached) {
    RetryParams p; // retries = 0 by default
    EXPECT_EQ(decide_retry(p, connect_failure(), kGet), RetryDecision::LimitReached);
}

TEST(StatusIsRetryable, FollowsRetryOn) {
    RetryParams p;
    p.retry_on = RetryOn502 | RetryOn504;
    EXPECT_TRUE(status_is_retryable(p, 502));
    EXPECT_TRUE(status_is_retryable(p, 504));
    EXPECT_FALSE(status_is_retryable(p, 500));
    EXPECT_FALSE(status_is_retryable(p, 503));
    EXPECT_FALSE(status_is_retryable(p, 200));
    p.retry_on = RetryOn5xx;
    for (int s = 500; s <= 599; ++s) EXPECT_TRUE(status_is_retryable(p, s)) << s;
    EXPECT_FALSE(status_is_retryable(p, 499));
    EXPECT_FALSE(status_is_retryable(p, 600));
    p.retry_on = RetryOnConnectFailure | RetryOnReset | RetryOnTimeout;
    EXPECT_FALSE(status_is_retryable(p, 502));
}

} // namespace
} // namespace haven::upstream
