// Region and own-check health on the control thread (see regions.hpp).
#include "dns/regions.hpp"

#include "core/clock.hpp"
#include "net/address.hpp"
#include "upstream/health/from_config.hpp"

#include <fmt/format.h>

namespace haven::dns {

struct RegionSet::Endpoint {
    GroupSpec::Endpoint spec;
    upstream::HealthStatus status = upstream::HealthStatus::Up;
    bool decided = true; // false until the first result, when `initial: check`
    std::unique_ptr<upstream::HealthChecker> checker;
    std::string last_check;
    double last_check_ms = 0;
    std::uint64_t checks = 0;
    std::uint64_t failures = 0;
};

struct RegionSet::Group {
    GroupSpec spec;
    std::vector<std::unique_ptr<Endpoint>> endpoints;
    bool up = true;
    std::uint64_t changes = 0;
    std::int64_t changed_at_us = 0;
};

namespace {

std::optional<GroupSpec::Endpoint> resolve(const std::string& name, const config::Endpoint& address,
                                           const config::HealthCheck& check, const std::string& what,
                                           std::vector<std::string>& errors) {
    std::string error;
    auto target = net::resolve(address, error);
    if (!target) {
        errors.push_back(what + ": " + error);
        return std::nullopt;
    }
    if (check.port != 0) target->port(check.port);
    return GroupSpec::Endpoint{name, address.text, *target};
}

} // namespace

std::vector<GroupSpec> group_specs(const config::DnsConfig& config, const ZoneData& data, std::vector<std::string>& errors) {
    std::vector<GroupSpec> out;
    for (const auto& r : config.regions) {
        GroupSpec g{r.name, true, {}, r.health_check, r.min_healthy};
        for (const auto& e : r.endpoints) {
            if (auto ep = resolve(e.name, e.address, r.health_check, "region " + r.name + " endpoint " + e.name, errors)) {
                g.endpoints.push_back(std::move(*ep));
            }
        }
        out.push_back(std::move(g));
    }
    for (const auto& s : data.sources) {
        if (s.kind != config::DnsHealth::Kind::Check || !s.check) continue;
        GroupSpec g{s.name, false, {}, *s.check, 1};
        if (auto ep = resolve(s.address.text, s.address, *s.check, s.name, errors)) g.endpoints.push_back(std::move(*ep));
        out.push_back(std::move(g));
    }
    return out;
}

ProbeFactory real_probes(asio::io_context& io, const Clock& clock) {
    return [&io, &clock](const config::HealthCheck& check, const asio::ip::tcp::endpoint& target) {
        const auto timeout = std::chrono::duration_cast<Duration>(check.timeout);
        if (check.kind == config::HealthCheck::Kind::Tcp) return upstream::make_tcp_probe(io, target, timeout, clock);
        return upstream::make_http_probe(io, target, upstream::http_probe_spec(check), timeout, clock);
    };
}

RegionSet::RegionSet(Scheduler& scheduler, Random& random, EventLog& events, ProbeFactory make_probe, OnChange on_change)
    : scheduler_(scheduler), random_(random), events_(events), make_probe_(std::move(make_probe)),
      on_change_(std::move(on_change)) {}

RegionSet::~RegionSet() { stop(); }

void RegionSet::configure(std::vector<GroupSpec> specs) {
    std::vector<std::unique_ptr<Group>> next;
    for (auto& spec : specs) {
        auto g = std::make_unique<Group>();
        g->spec = std::move(spec);
        Group* old = nullptr;
        for (auto& o : groups_) {
            if (o && o->spec.name == g->spec.name && o->spec.region == g->spec.region) old = o.get();
        }
        for (const auto& es : g->spec.endpoints) {
            auto e = std::make_unique<Endpoint>();
            e->spec = es;
            e->decided = g->spec.check.initial != config::InitialHealth::Check;
            e->status = g->spec.check.initial == config::InitialHealth::Down ? upstream::HealthStatus::Down
                                                                             : upstream::HealthStatus::Up;
            for (std::size_t i = 0; old && i < old->endpoints.size(); ++i) {
                const Endpoint* oe = old->endpoints[i].get();
                if (oe->spec.name == es.name && oe->spec.address == es.address) {
                    e->status = oe->status;
                    e->decided = oe->decided;
                    e->last_check = oe->last_check;
                    e->checks = oe->checks;
                    e->failures = oe->failures;
                }
            }
            g->endpoints.push_back(std::move(e));
        }
        g->up = count_up(g->endpoints) >= g->spec.min_healthy;
        if (old) {
            g->changes = old->changes;
            g->changed_at_us = old->changed_at_us;
        }
        next.push_back(std::move(g));
    }
    // The old checkers stop with their groups; results they had in flight are dropped.
    groups_ = std::move(next);
    if (!running_) return;
    for (auto& g : groups_) {
        for (auto& e : g->endpoints) start_checker(*g, *e, !e->decided || e->checks == 0);
    }
}

void RegionSet::start() {
    if (running_) return;
    running_ = true;
    for (auto& g : groups_) {
        for (auto& e : g->endpoints) start_checker(*g, *e, true);
    }
}

void RegionSet::stop() {
    running_ = false;
    for (auto& g : groups_) {
        for (auto& e : g->endpoints) {
            if (e->checker) e->checker->stop();
        }
    }
}

void RegionSet::start_checker(Group& g, Endpoint& e, bool now) {
    const bool first_decides = !e.decided;
    e.checker = std::make_unique<upstream::HealthChecker>(
        scheduler_, random_, make_probe_(g.spec.check, e.spec.target), upstream::health_params(g.spec.check), e.status,
        [this, &g, &e](const upstream::HealthReport& r) { on_report(g, e, r); }, first_decides);
    e.checker->start(now ? upstream::HealthChecker::FirstProbe::Now : upstream::HealthChecker::FirstProbe::Spread);
}

void RegionSet::on_report(Group& g, Endpoint& e, const upstream::HealthReport& r) {
    ++e.checks;
    if (!r.result.ok) ++e.failures;
    e.last_check = r.result.reason;
    e.last_check_ms = to_ms(r.result.took);
    e.decided = true;
    if (r.status == e.status) return;
    e.status = r.status;
    const bool up = r.status == upstream::HealthStatus::Up;
    if (g.spec.region) {
        events_.add(up ? "region_endpoint_up" : "region_endpoint_down", g.spec.name, e.spec.name,
                    fmt::format("{} ({})", e.spec.address, r.result.reason));
    }
    update_group(g, r.result.reason);
}

void RegionSet::update_group(Group& g, const std::string& why) {
    const std::uint32_t n = count_up(g.endpoints);
    const bool up = n >= g.spec.min_healthy;
    if (up == g.up) return;
    g.up = up;
    ++g.changes;
    g.changed_at_us = wall_time_us();
    if (g.spec.region) {
        events_.add(up ? "region_up" : "region_down", "", "",
                    fmt::format("region {} {} ({} of {} endpoints up, needs {})", g.spec.name, up ? "up" : "down", n,
                                g.endpoints.size(), g.spec.min_healthy));
    } else {
        events_.add(up ? "dns_check_up" : "dns_check_down", "", "", fmt::format("{} {} ({})", g.spec.name, up ? "up" : "down", why));
    }
    if (on_change_) on_change_();
}

std::optional<bool> RegionSet::up(std::string_view name) const {
    for (const auto& g : groups_) {
        if (g->spec.name == name) return g->up;
    }
    return std::nullopt;
}

std::vector<GroupStatus> RegionSet::status() const {
    std::vector<GroupStatus> out;
    for (const auto& g : groups_) {
        GroupStatus s{g->spec.name, g->spec.region, g->up, count_up(g->endpoints), g->spec.min_healthy, g->changes,
                      g->changed_at_us, {}};
        for (const auto& e : g->endpoints) {
            s.endpoints.push_back(EndpointStatus{e->spec.name, e->spec.address, e->status == upstream::HealthStatus::Up,
                                                 e->last_check, e->last_check_ms, e->checks, e->failures});
        }
        out.push_back(std::move(s));
    }
    return out;
}

bool RegionSet::first_round_done() const {
    for (const auto& g : groups_) {
        for (const auto& e : g->endpoints) {
            if (!e->decided) return false;
        }
    }
    return true;
}

std::uint32_t RegionSet::count_up(const std::vector<std::unique_ptr<Endpoint>>& endpoints) {
    std::uint32_t n = 0;
    for (const auto& e : endpoints) n += e->status == upstream::HealthStatus::Up ? 1 : 0;
    return n;
}

} // namespace haven::dns
