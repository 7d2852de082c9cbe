// Counters written on the request path and read by the metrics scrape.
//
// A Counter has one writer (its worker thread): increments are a relaxed load and store, never a
// locked instruction. Series shared by all workers (a server's request count, a route's latency
// histogram) keep one cache-line-padded slot per worker, so workers never write the same cache
// line; the scrape sums the slots.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

namespace haven {

class Counter {
public:
    void inc(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void dec(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
    void set(std::uint64_t n) { v_.store(n, std::memory_order_relaxed); }
    std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// Upper bounds (seconds) of the request-duration histogram buckets; the last bucket is +Inf.
inline constexpr std::array<double, 14> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                          0.1,    0.25,  0.5,    1.0,   2.5,   5.0,  10.0};
inline constexpr std::size_t kLatencyBuckets = kLatencyBounds.size() + 1;

// Non-cumulative bucket counts plus sum, one writer.
struct LatencyHistogram {
    std::array<Counter, kLatencyBuckets> buckets;
    Counter sum_us;

    void observe_us(std::uint64_t us) {
        std::size_t i = 0;
        const double s = static_cast<double>(us) / 1e6;
        while (i < kLatencyBounds.size() && s > kLatencyBounds[i]) ++i;
        buckets[i].inc();
        sum_us.inc(us);
    }
};

// One T per worker thread, each on its own cache lines.
template <typename T>
class PerWorker {
public:
    explicit PerWorker(std::size_t workers) : n_(workers), slots_(std::make_unique<Slot[]>(workers)) {}
    T& at(std::size_t worker) { return slots_[worker].value; }
    const T& at(std::size_t worker) const { return slots_[worker].value; }
    std::size_t size() const { return n_; }

private:
    struct alignas(64) Slot {
        T value;
    };
    std::size_t n_;
    std::unique_ptr<Slot[]> slots_;
};

} // namespace haven
