#include "upstream/circuit/breaker.hpp"

#include "upstream/health/health_state.hpp"

#include <algorithm>

namespace haven::upstream {

const char* breaker_state_name(BreakerState s) {
    switch (s) {
    case BreakerState::Closed: return "closed";
    case BreakerState::Open: return "open";
    case BreakerState::HalfOpen: return "half_open";
    }
    return "?";
}

void CircuitBreaker::add_to_window(const BreakerCounts& c, TimePoint now) {
    const Duration bucket = std::max(params_.window / kBuckets, Duration(1));
    const std::int64_t index = now.time_since_epoch() / bucket;
    if (bucket_index_ < 0 || index - bucket_index_ >= kBuckets) {
        std::fill(std::begin(ok_), std::end(ok_), 0);
        std::fill(std::begin(bad_), std::end(bad_), 0);
    } else {
        for (std::int64_t i = bucket_index_ + 1; i <= index; ++i) {
            ok_[i % kBuckets] = 0;
            bad_[i % kBuckets] = 0;
        }
    }
    if (index > bucket_index_) bucket_index_ = index;
    ok_[bucket_index_ % kBuckets] += c.successes;
    bad_[bucket_index_ % kBuckets] += c.failures;
}

bool CircuitBreaker::window_trips() const {
    if (!(params_.failure_ratio > 0)) return false;
    std::uint64_t ok = 0, bad = 0;
    for (int i = 0; i < kBuckets; ++i) {
        ok += ok_[i];
        bad += bad_[i];
    }
    const std::uint64_t total = ok + bad;
    if (total == 0 || total < params_.min_requests) return false;
    return static_cast<double>(bad) >= params_.failure_ratio * static_cast<double>(total);
}

void CircuitBreaker::open(TimePoint now, Random& random) {
    ++trips_;
    ++trips_in_a_row_;
    Duration d = params_.open_for;
    for (std::uint32_t i = 1; i < trips_in_a_row_ && d < params_.max_open_for; ++i) d *= 2;
    d = std::min(d, std::max(params_.max_open_for, params_.open_for));
    state_ = BreakerState::Open;
    open_until_ = now + apply_jitter(d, params_.jitter, random);
    probe_successes_ = 0;
    std::fill(std::begin(ok_), std::end(ok_), 0);
    std::fill(std::begin(bad_), std::end(bad_), 0);
}

BreakerTransition CircuitBreaker::observe(const BreakerCounts& c, TimePoint now, Random& random) {
    switch (state_) {
    case BreakerState::Closed: {
        add_to_window(c, now);
        const bool streak = params_.consecutive_failures > 0 && c.consecutive_failures >= params_.consecutive_failures;
        if (!streak && !window_trips()) {
            // Staying closed for as long as the first open time forgives the earlier trips: the
            // next one is short again.
            if (trips_in_a_row_ > 0 && now - closed_since_ >= std::max(params_.open_for, params_.window)) {
                trips_in_a_row_ = 0;
            }
            return BreakerTransition::None;
        }
        open(now, random);
        return BreakerTransition::Opened;
    }
    case BreakerState::Open:
        if (now < open_until_) return BreakerTransition::None;
        state_ = BreakerState::HalfOpen;
        probe_successes_ = 0;
        return BreakerTransition::HalfOpened;
    case BreakerState::HalfOpen:
        if (c.probe_failures > 0) {
            open(now, random);
            return BreakerTransition::Reopened;
        }
        probe_successes_ += c.probe_successes;
        if (probe_successes_ < std::max<std::uint32_t>(1, params_.close_after)) return BreakerTransition::None;
        state_ = BreakerState::Closed;
        closed_since_ = now;
        bucket_index_ = -1;
        return BreakerTransition::Closed;
    }
    return BreakerTransition::None;
}

void BreakerGate::on_result(Admission a, bool failure, std::size_t w) {
    if (a == Admission::Probe) {
        (failure ? probe_bad_ : probe_ok_).fetch_add(1, std::memory_order_relaxed);
        probes_.fetch_sub(1, std::memory_order_acq_rel);
        return;
    }
    if (a != Admission::Pass) return;
    if (failure) {
        bad_.at(w).inc();
        streak_.fetch_add(1, std::memory_order_relaxed);
    } else {
        ok_.at(w).inc();
        // Read first: successes are the common case and should not dirty the cache line.
        if (streak_.load(std::memory_order_relaxed) != 0) streak_.store(0, std::memory_order_relaxed);
    }
}

BreakerCounts BreakerGate::take_counts() {
    BreakerCounts c;
    std::uint64_t ok = 0, bad = 0;
    for (std::size_t w = 0; w < ok_.size(); ++w) {
        ok += ok_.at(w).get();
        bad += bad_.at(w).get();
    }
    c.successes = ok - seen_ok_;
    c.failures = bad - seen_bad_;
    seen_ok_ = ok;
    seen_bad_ = bad;
    c.consecutive_failures = streak_.load(std::memory_order_relaxed);
    const auto pok = probe_ok_.load(std::memory_order_relaxed);
    const auto pbad = probe_bad_.load(std::memory_order_relaxed);
    c.probe_successes = pok - seen_probe_ok_;
    c.probe_failures = pbad - seen_probe_bad_;
    seen_probe_ok_ = pok;
    seen_probe_bad_ = pbad;
    return c;
}

void BreakerGate::publish(BreakerState s, TimePoint open_until) {
    open_until_ns_.store(open_until.time_since_epoch().count(), std::memory_order_relaxed);
    if (s != BreakerState::Closed) streak_.store(0, std::memory_order_relaxed); // a new state starts counting anew
    state_.store(s, std::memory_order_release);
}

} // namespace haven::upstream
