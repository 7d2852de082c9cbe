// src/upstream/circuit: the circuit breaker (the brief's CLOSED -> OPEN -> HALF_OPEN), per pool
// and per route. Decision apart from enforcement (design rule 5):
//   - CircuitBreaker (this file's class) is the pure state machine, run by the control thread
//     every 100 ms with what the gate counted since the last run; time and randomness are
//     parameters;
//   - BreakerGate is the thin part on the request path: one atomic load to know the state, one
//     bounded counter in half-open, and one per-worker counter per outcome.
// "Open" means traffic is blocked (docs/glossary.md). Not to be confused with ResourceLimits
// (concurrency caps) or OutlierDetector (per-server ejection).
#pragma once

#include "core/clock.hpp"
#include "core/counters.hpp"
#include "core/random.hpp"

#include <atomic>
#include <cstdint>

namespace haven::upstream {

enum class BreakerState : std::uint8_t { Closed, Open, HalfOpen };

const char* breaker_state_name(BreakerState s);

struct BreakerParams {
    std::uint32_t consecutive_failures = 5; // failures in a row that open it; 0: this rule is off
    double failure_ratio = 0;               // failures / requests over `window` that open it; 0: off
    std::uint32_t min_requests = 20;        // requests the window needs before the ratio counts
    Duration window = std::chrono::seconds(10);
    Duration open_for = std::chrono::seconds(60);      // the first trip (the brief's timeout)
    Duration max_open_for = std::chrono::minutes(10);  // each trip in a row doubles it, up to this
    double jitter = 0.10;                              // +/- on every open time
    std::uint32_t half_open_requests = 1; // probes admitted at once while half-open
    std::uint32_t close_after = 1;        // probe successes that close it again
};

// What the gate counted since the previous observation.
struct BreakerCounts {
    std::uint32_t consecutive_failures = 0; // the current streak
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    std::uint64_t probe_successes = 0; // of requests admitted while half-open
    std::uint64_t probe_failures = 0;
};

enum class BreakerTransition : std::uint8_t {
    None,
    Opened,     // closed -> open (a trip)
    HalfOpened, // open -> half-open: its time is up
    Closed,     // half-open -> closed: the probes succeeded
    Reopened,   // half-open -> open: a probe failed (a trip, longer than the last)
};

class CircuitBreaker {
public:
    explicit CircuitBreaker(const BreakerParams& p) : params_(p) {}

    // Rules, by state:
    //   Closed: the counts join a rolling window (10 buckets); it opens when the streak reaches
    //     consecutive_failures, or when the window holds >= min_requests with a failure share >=
    //     failure_ratio;
    //   Open: it half-opens once `now` reaches the end of the open time;
    //   HalfOpen: one failed probe reopens it, for longer; close_after successful probes close it.
    // Each open time is open_for × 2^(trips in a row - 1), at most max_open_for, with jitter.
    BreakerTransition observe(const BreakerCounts& c, TimePoint now, Random& random);

    BreakerState state() const { return state_; }
    TimePoint open_until() const { return open_until_; }
    std::uint64_t trips() const { return trips_; }
    const BreakerParams& params() const { return params_; }
    void set_params(const BreakerParams& p) { params_ = p; }

private:
    static constexpr int kBuckets = 10;
    void add_to_window(const BreakerCounts& c, TimePoint now);
    bool window_trips() const;
    void open(TimePoint now, Random& random);

    BreakerParams params_;
    BreakerState state_ = BreakerState::Closed;
    TimePoint open_until_{};
    TimePoint closed_since_{};
    std::uint64_t trips_ = 0;
    std::uint32_t trips_in_a_row_ = 0;
    std::uint64_t probe_successes_ = 0;
    std::int64_t bucket_index_ = -1; // which window bucket `now` falls in
    std::uint64_t ok_[kBuckets] = {};
    std::uint64_t bad_[kBuckets] = {};
};

// The request path's view of one breaker. Shared by every worker; the control thread publishes
// the state and reads the counts.
class BreakerGate {
public:
    explicit BreakerGate(std::size_t workers) : ok_(workers), bad_(workers) {}

    enum class Admission : std::uint8_t { NotAsked, Pass, Probe, Reject };
    // Rules: closed passes; open rejects; half-open admits a probe while fewer than `limit` are
    // in flight, else rejects.
    Admission admit(std::uint32_t half_open_limit) {
        const auto s = state_.load(std::memory_order_acquire);
        if (s == BreakerState::Closed) return Admission::Pass;
        if (s == BreakerState::Open) return Admission::Reject;
        if (probes_.fetch_add(1, std::memory_order_acq_rel) < half_open_limit) return Admission::Probe;
        probes_.fetch_sub(1, std::memory_order_acq_rel);
        return Admission::Reject;
    }
    // The outcome of a request admitted with `a` (Pass or Probe), on worker `w`.
    void on_result(Admission a, bool failure, std::size_t w);
    // A request admitted with `a` whose outcome says nothing about the servers (the client went
    // away, or haven answered itself): a probe's slot is freed, nothing is counted.
    void release(Admission a) {
        if (a == Admission::Probe) probes_.fetch_sub(1, std::memory_order_acq_rel);
    }

    BreakerState state() const { return state_.load(std::memory_order_acquire); }
    // Control thread: the counts since the last call, and the state to publish.
    BreakerCounts take_counts();
    void publish(BreakerState s, TimePoint open_until);
    // When an open breaker will half-open (for Retry-After); steady-clock nanoseconds.
    std::int64_t open_until_ns() const { return open_until_ns_.load(std::memory_order_relaxed); }

private:
    std::atomic<BreakerState> state_{BreakerState::Closed};
    std::atomic<std::int64_t> open_until_ns_{0};
    std::atomic<std::uint32_t> probes_{0};        // probes in flight
    std::atomic<std::uint32_t> streak_{0};        // consecutive failures
    std::atomic<std::uint64_t> probe_ok_{0};
    std::atomic<std::uint64_t> probe_bad_{0};
    PerWorker<Counter> ok_;
    PerWorker<Counter> bad_;
    std::uint64_t seen_ok_ = 0; // control thread only
    std::uint64_t seen_bad_ = 0;
    std::uint64_t seen_probe_ok_ = 0;
    std::uint64_t seen_probe_bad_ = 0;
};

} // namespace haven::upstream
