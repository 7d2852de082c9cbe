// src/upstream/retry: when a failed attempt is tried again. Retries are bounded three ways
// (design rule 7): a count (`retries`), a per-try timeout, and a budget relative to live traffic
// (budget.hpp). The exact rules users rely on are in docs/proxying.md ("Retry rules").
#pragma once

#include "config/retry_on.hpp"
#include "core/clock.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace haven::upstream {

// Failure classes a pool may retry on (retry_on: [connect-failure, reset, timeout, 502, ...]): the
// config parses the names into these bits (config/retry_on.hpp).
using config::RetryOn;
using config::RetryOn500;
using config::RetryOn502;
using config::RetryOn503;
using config::RetryOn504;
using config::RetryOn5xx;
using config::RetryOnConnectFailure;
using config::RetryOnReset;
using config::RetryOnTimeout;

struct RetryParams {
    std::uint32_t retries = 0; // additional attempts after the first
    std::uint32_t retry_on = RetryOnConnectFailure | RetryOnReset | RetryOnTimeout | RetryOn502 | RetryOn503 | RetryOn504;
    bool retry_non_idempotent = false;
    std::uint64_t retry_buffer = 64 * 1024; // a request body up to this size is kept for replay
    Duration per_try_timeout{0};            // 0: timeouts.server applies to each try
    Duration backoff_base = std::chrono::milliseconds(25);
    Duration backoff_max = std::chrono::milliseconds(250);
};

enum class FailureKind : std::uint8_t { ConnectFailure, Reset, Timeout, Status };

struct AttemptFailure {
    FailureKind kind = FailureKind::ConnectFailure;
    int status = 0;            // for FailureKind::Status: the server's status (5xx)
    bool request_sent = false; // at least one byte of the request reached the server
};

enum class RetryDecision : std::uint8_t {
    Retry,
    No,              // not a retryable failure, or retrying would be unsafe
    BudgetExhausted, // too many retries in flight relative to live traffic
    LimitReached,    // `retries` attempts already made
    NoServer,        // no server is left to try (all refused, or the pool has no other)
};

struct RetryContext {
    std::uint32_t retries_done = 0; // retries already made for this request
    bool idempotent = true;         // RFC 9110 §9.2.2
    bool body_replayable = true;    // the whole request body is still held (<= retry_buffer)
    bool response_started = false;  // a byte of the response reached the client
};

// The decision, without the budget (the caller asks the budget only when this says Retry).
// Rules: never after the response started; never if the failure is not in retry_on; a request
// that may have reached the server (request_sent) is retried only when idempotent or
// retry_non_idempotent, and only when its body can be replayed; at most `retries` retries.
RetryDecision decide_retry(const RetryParams& p, const AttemptFailure& f, const RetryContext& c);

// Whether a server status is a failure retry_on covers (so the response is held back and retried).
bool status_is_retryable(const RetryParams& p, int status);

} // namespace haven::upstream
