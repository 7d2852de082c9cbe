// The retry budget: retries in flight may not exceed max(min_concurrent, ratio × requests in
// flight). When servers fail broadly, this keeps retries from multiplying the load (a retry storm).
// Kept per worker thread (no shared state, no locks); the ratio applies per worker.
#pragma once

#include <cstdint>

namespace haven::upstream {

class RetryBudget {
public:
    RetryBudget(double ratio = 0.2, std::uint32_t min_concurrent = 3) : ratio_(ratio), min_(min_concurrent) {}

    void request_started() { ++requests_; }
    void request_finished() { --requests_; }
    // Reserves a retry if the budget allows it; pair with retry_finished().
    bool try_acquire();
    void retry_finished() { --retries_; }

    std::uint32_t requests() const { return requests_; }
    std::uint32_t retries() const { return retries_; }
    void set(double ratio, std::uint32_t min_concurrent) {
        ratio_ = ratio;
        min_ = min_concurrent;
    }

private:
    double ratio_;
    std::uint32_t min_;
    std::uint32_t requests_ = 0;
    std::uint32_t retries_ = 0;
};

} // namespace haven::upstream
