// ns per pick for each load-balancing algorithm with 10 and 100 hosts, and the cost of building a
// Maglev table (set_hosts), which runs off the request path but on every host change.
#include "core/random.hpp"
#include "upstream/lb/load_balancer.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

using namespace haven;
using namespace haven::upstream;

std::vector<LbEntry> weighted_hosts(std::int64_t n) {
    std::vector<LbEntry> hosts;
    for (HostIndex h = 0; h < n; ++h) hosts.push_back({h, 1 + h % 5});
    return hosts;
}

// Balancers that read `active` see varied counts, as under load.
void run_picks(benchmark::State& state, config::Balance balance, bool with_key) {
    const auto hosts = weighted_hosts(state.range(0));
    ActiveCounts active(hosts.size());
    FastRandom random(1);
    for (auto& a : active) a = static_cast<std::uint32_t>(random.below(20));
    auto lb = make_load_balancer(balance, active, random);
    lb->set_hosts(hosts);
    std::vector<std::uint64_t> keys;
    for (int i = 0; i < 1024; ++i) keys.push_back(hash_key("10.0." + std::to_string(i)));
    std::size_t i = 0;
    for (auto _ : state) {
        PickRequest request;
        if (with_key) {
            request.hash = keys[i++ & 1023];
            request.has_hash = true;
        }
        benchmark::DoNotOptimize(lb->pick(request));
    }
}

void BM_RoundRobin(benchmark::State& s) { run_picks(s, config::Balance::RoundRobin, false); }
void BM_LeastConn(benchmark::State& s) { run_picks(s, config::Balance::LeastConn, false); }
void BM_P2c(benchmark::State& s) { run_picks(s, config::Balance::Random2, false); }
void BM_Maglev(benchmark::State& s) { run_picks(s, config::Balance::Hash, true); }
void BM_MaglevNoKey(benchmark::State& s) { run_picks(s, config::Balance::Hash, false); }

BENCHMARK(BM_RoundRobin)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_LeastConn)->Arg(10)->Arg(100);
BENCHMARK(BM_P2c)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_Maglev)->Arg(10)->Arg(100);
BENCHMARK(BM_MaglevNoKey)->Arg(10)->Arg(100);

void BM_MaglevBuild(benchmark::State& state) {
    const auto hosts = weighted_hosts(state.range(0));
    auto lb = make_maglev();
    for (auto _ : state) lb->set_hosts(hosts);
    state.SetLabel("65537-entry table");
}
BENCHMARK(BM_MaglevBuild)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_HashKey(benchmark::State& state) {
    const std::string key(static_cast<std::size_t>(state.range(0)), 'k');
    for (auto _ : state) benchmark::DoNotOptimize(hash_key(key));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HashKey)->Arg(15)->Arg(40)->Arg(256);

} // namespace
