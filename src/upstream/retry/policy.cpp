// The retry rules (docs/proxying.md, "Retry rules"). A pure function of the pool's parameters,
// the failure and the request's state, so the rules can be checked as a table.
#include "upstream/retry/policy.hpp"

namespace haven::upstream {
namespace {

// The retry_on bit that covers one failure class (status failures are handled apart, since
// several bits may cover the same status).
std::uint32_t bit_for(FailureKind kind) {
    switch (kind) {
    case FailureKind::ConnectFailure: return RetryOnConnectFailure;
    case FailureKind::Reset: return RetryOnReset;
    case FailureKind::Timeout: return RetryOnTimeout;
    case FailureKind::Status: return 0;
    }
    return 0;
}

bool covered(const RetryParams& p, const AttemptFailure& f) {
    if (f.kind == FailureKind::Status) return status_is_retryable(p, f.status);
    return (p.retry_on & bit_for(f.kind)) != 0;
}

} // namespace

bool status_is_retryable(const RetryParams& p, int status) {
    // Only server errors are failures; a 4xx is the server's answer about the request itself
    // and would be the same on any server.
    if (status < 500 || status > 599) return false;
    if ((p.retry_on & RetryOn5xx) != 0) return true;
    switch (status) {
    case 500: return (p.retry_on & RetryOn500) != 0;
    case 502: return (p.retry_on & RetryOn502) != 0;
    case 503: return (p.retry_on & RetryOn503) != 0;
    case 504: return (p.retry_on & RetryOn504) != 0;
    default: return false;
    }
}

RetryDecision decide_retry(const RetryParams& p, const AttemptFailure& f, const RetryContext& c) {
    // Rules, in order (the first that applies decides):
    // 1. once a byte of the response reached the client, the attempt cannot be replaced: No;
    // 2. a failure retry_on does not name: No;
    // 3. the request may have reached the server (request_sent) and is not idempotent, and the
    //    pool does not opt into retry_non_idempotent: No — the server may have acted on it.
    //    A connect failure sends nothing, so even a POST may be retried then;
    // 4. the request was sent and its body was not kept whole (larger than retry_buffer): No —
    //    there is nothing to send again;
    // 5. `retries` retries already made: LimitReached;
    // otherwise Retry (the caller then asks the budget).
    if (c.response_started) return RetryDecision::No;
    if (!covered(p, f)) return RetryDecision::No;
    if (f.request_sent && !c.idempotent && !p.retry_non_idempotent) return RetryDecision::No;
    if (f.request_sent && !c.body_replayable) return RetryDecision::No;
    if (c.retries_done >= p.retries) return RetryDecision::LimitReached;
    return RetryDecision::Retry;
}

} // namespace haven::upstream
