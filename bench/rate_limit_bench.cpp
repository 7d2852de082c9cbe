// The rate limiter's cost and memory (docs/policies.md): ns per check for a hot key and for a
// flood of distinct keys, and the bytes a key costs, measured as RSS growth while 1,000,000
// distinct keys go into a table sized for them (reported as counters "rss_mb" and "bytes/key").
#include "policy/rate_limit.hpp"

#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

namespace {

using namespace haven;
using namespace haven::policy;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1);

std::size_t rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
    }
    return 0;
}

void HotKey(benchmark::State& state) {
    LimitTable t({Limit{1'000'000'000, std::chrono::seconds(1)}}, 100'000);
    for (auto _ : state) benchmark::DoNotOptimize(t.acquire(42, kT0));
}
BENCHMARK(HotKey);

void ThreeLimitsHotKey(benchmark::State& state) {
    LimitTable t({Limit{1'000'000'000, std::chrono::hours(24)}, Limit{1'000'000'000, std::chrono::hours(1)},
                  Limit{1'000'000'000, std::chrono::minutes(1)}},
                 100'000);
    for (auto _ : state) benchmark::DoNotOptimize(t.acquire(42, kT0));
}
BENCHMARK(ThreeLimitsHotKey);

// A shared table (shared_state): the same check, plus the admission count the control thread
// sends to Redis; the key is taken every 1,000 checks, as a sync round would, so the "first
// request of a key in a round" path (a list append) is in the figure.
void SharedHotKey(benchmark::State& state) {
    LimitTable t({Limit{1'000'000'000, std::chrono::seconds(1)}}, 100'000, Duration::zero(), true);
    std::vector<LimitTable::Unsynced> taken;
    taken.reserve(16);
    std::uint64_t n = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(t.acquire(42, kT0));
        if (++n % 1000 == 0) {
            taken.clear();
            t.take_unsynced(taken);
        }
    }
}
BENCHMARK(SharedHotKey);

// A flood of distinct keys into a full table: every check evicts the least recently used key.
void KeyFloodFullTable(benchmark::State& state) {
    LimitTable t({Limit{10, std::chrono::minutes(1)}}, 100'000);
    std::uint64_t k = 0;
    for (auto _ : state) benchmark::DoNotOptimize(t.acquire((++k) * 0x9E3779B97F4A7C15ull, kT0));
}
BENCHMARK(KeyFloodFullTable);

void MillionKeysMemory(benchmark::State& state) {
    for (auto _ : state) {
        const auto before = rss_kib();
        auto t = std::make_unique<LimitTable>(std::vector<Limit>{Limit{10, std::chrono::minutes(1)}}, 1'000'000);
        for (std::uint64_t k = 1; k <= 1'000'000; ++k) t->acquire(k * 0x9E3779B97F4A7C15ull, kT0);
        const auto after = rss_kib();
        state.counters["keys"] = static_cast<double>(t->keys());
        state.counters["rss_mb"] = static_cast<double>(after - before) / 1024.0;
        state.counters["bytes/key"] = static_cast<double>(after - before) * 1024.0 / 1'000'000.0;
        state.counters["estimate"] = static_cast<double>(LimitTable::bytes_per_key());
    }
}
BENCHMARK(MillionKeysMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

} // namespace
