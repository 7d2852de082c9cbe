// The retry budget: over any 10 s window, retries may not exceed
//     min_per_second × 10 s  +  ratio × requests started in that window  +  requests in flight now.
// When every server fails, this bounds the load retries add to ratio (20% by default) on top of
// the clients' own, plus at most one retry per request in flight: retries cannot multiply the
// traffic into a storm. When a server dies, every request it had in flight fails at once; the
// last term lets each of them be retried once (elsewhere) however little traffic the window saw
// before — a one-off burst the size of the pool's concurrency, not a storm — so a healthy pool
// never turns a dead server into errors, even seconds after start.
//
// Why a window over time and not only a cap on retries in flight: a cap on concurrency refuses
// part of the burst a server death causes and lets a slow, steady storm through; the window
// does the opposite, which is what a budget is for. Ten one-second buckets: the allowance follows
// traffic changes within a second and costs one comparison and one increment per request.
//
// Kept per worker thread and per pool (no shared state, no locks). Time is a parameter.
#pragma once

#include "core/clock.hpp"

#include <array>
#include <cstdint>

namespace haven::upstream {

struct RetryBudgetParams {
    double ratio = 0.2;                // retries per request over the window
    std::uint32_t min_per_second = 10; // allowance that needs no traffic (light pools still retry)
};

class RetryBudget {
public:
    static constexpr int kBuckets = 10;
    static constexpr Duration kBucket = std::chrono::seconds(1);
    static constexpr Duration kWindow = kBucket * kBuckets;

    explicit RetryBudget(RetryBudgetParams p = {}) : params_(p) {}

    // A request started at `now`: adds to the window's allowance; it is in flight until
    // request_finished().
    void on_request(TimePoint now) {
        advance(now);
        ++requests_[slot_];
        ++request_sum_;
        ++in_flight_;
    }
    void request_finished() { --in_flight_; }
    // Takes one retry from the allowance if it has one left.
    bool try_acquire(TimePoint now);

    // In the current window.
    std::uint64_t requests() const { return request_sum_; }
    std::uint64_t retries() const { return retry_sum_; }
    std::uint32_t in_flight() const { return in_flight_; }
    // Retries the window allows in all (spent ones included).
    double allowance() const;
    void set(RetryBudgetParams p) { params_ = p; }

private:
    // Moves the window to the bucket of `now`, emptying the buckets it passed.
    void advance(TimePoint now) {
        const auto second = static_cast<std::int64_t>(now.time_since_epoch() / kBucket);
        if (second != second_) rotate(second);
    }
    void rotate(std::int64_t second);

    RetryBudgetParams params_;
    std::array<std::uint32_t, kBuckets> requests_{};
    std::array<std::uint32_t, kBuckets> retries_{};
    std::uint64_t request_sum_ = 0;
    std::uint64_t retry_sum_ = 0;
    std::uint32_t in_flight_ = 0;
    std::int64_t second_ = INT64_MIN; // bucket index of the newest bucket
    int slot_ = 0;                    // where second_ lives in the arrays
};

} // namespace haven::upstream
