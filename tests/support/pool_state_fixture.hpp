// A PoolState test fixture: a manual scheduler, fixed randomness, fake probes (one control per
// server name), and every published HostSet kept. Shared by the pool_state tests.
#pragma once

#include "upstream/pool_state.hpp"

#include "support/fake_probe.hpp"
#include "support/fake_random.hpp"
#include "support/manual_scheduler.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace haven::upstream::test_support {

using namespace std::chrono_literals;

inline config::Server server(std::string name, std::uint16_t port, bool backup = false) {
    config::Server s;
    s.name = std::move(name);
    s.address = config::Endpoint{"127.0.0.1:" + std::to_string(port), "127.0.0.1", port};
    s.backup = backup;
    return s;
}

inline config::HealthCheck check() {
    config::HealthCheck h;
    h.interval = 1000ms;
    h.fast_interval = 100ms;
    h.down_interval = 1000ms;
    h.timeout = 50ms;
    h.rise = 2;
    h.fall = 3;
    h.jitter = 0;
    return h;
}

struct PoolStateTest : ::testing::Test {
    asio::io_context io;
    test::ManualScheduler sched;
    test::FakeRandom random{{0}};
    EventLog events;
    std::vector<std::shared_ptr<const HostSet>> published;
    std::map<std::string, std::shared_ptr<test::FakeProbeControl>> probes;
    ControlEnv env{io, sched, random, events, [this](auto set) { published.push_back(std::move(set)); },
                   [this](const config::HealthCheck&, const config::Server& s, const asio::ip::tcp::endpoint&) {
                       auto c = std::make_shared<test::FakeProbeControl>();
                       c->latency = 10ms;
                       probes[s.name] = c;
                       return std::make_unique<test::FakeProbe>(c, &sched);
                   }};

    config::Pool pool(bool with_check = true) {
        config::Pool p;
        p.name = "web";
        p.servers = {server("web1", 9001), server("web2", 9002), server("spare", 9003, true)};
        if (with_check) p.health_check = check();
        p.outlier_detection.consecutive_failures = 5;
        p.outlier_detection.base_ejection = 30s;
        return p;
    }
    static std::vector<HostIndex> serving(const HostSet& s) {
        std::vector<HostIndex> out;
        for (const auto& e : s.eligible) out.push_back(e.host);
        return out;
    }
    void all_ok() {
        for (auto& [name, c] : probes) c->fallback = test::probe_ok();
    }
};

} // namespace haven::upstream::test_support
