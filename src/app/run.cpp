// `haven run` and `haven check`.
#include "app/commands.hpp"
#include "config/check_timing.hpp"
#include "config/dns_schema.hpp"
#include "config/value_rules.hpp"
#include "config/yaml_loader.hpp"
#include "runtime/runtime.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

namespace haven::app {
namespace {

std::optional<config::Config> load_or_report(const std::string& path) {
    auto result = config::load_file(path);
    for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return std::move(result.config);
}

std::string duration(config::Duration d) { return config::rules::duration_text(d); }

// "role primary: ...": what a database pool sends where (docs/database-ha.md).
void print_role(const config::Pool& p) {
    const char* what = p.role == config::PoolRole::Primary ? "primary: only the one server that claims primary (none while two do)"
                       : p.role == config::PoolRole::Replica ? "replica: replicas only"
                                                             : "prefer_replica: replicas, else the primary";
    std::string lag;
    if (p.max_lag.count() > 0) lag += fmt::format(", lag at most {}", duration(p.max_lag));
    if (p.max_lag_bytes > 0) lag += fmt::format(", at most {} bytes behind", p.max_lag_bytes);
    fmt::print("    role {}{}; connections to a server that goes down are {}\n", what, lag,
               p.marked_down() == config::OnMarkedDown::ShutdownSessions ? "shut" : "kept");
}

// "http GET /health every 1s (timeout 1s, fast 500ms, down 1s, rise 2, fall 2, jitter 10%,
// initial check)", and the times those settings give.
void print_check(const config::HealthCheck& h) {
    const std::string what = h.kind == config::HealthCheck::Kind::Tcp ? std::string("tcp connect")
                             : h.kind == config::HealthCheck::Kind::Postgres
                                 ? fmt::format("postgres role as {}@{}", h.postgres.user, h.postgres.database)
                                 : fmt::format("http {} {}", h.method, h.path);
    fmt::print("    health check: {}{} every {} (timeout {}, fast {}, down {}, rise {}, fall {}, jitter {:.0f}%, initial {})\n",
               what, h.port ? fmt::format(" on port {}", h.port) : "", duration(h.interval), duration(h.timeout),
               duration(h.fast_interval), duration(h.down_interval), h.rise, h.fall, h.jitter * 100,
               config::name_of(h.initial));
    const auto t = config::check_timing(h);
    fmt::print("    worst case: a dead server is marked down by checks within {}, a restarted one serves again "
               "within {} ({} if its checks were refused meanwhile); a refused connect on live traffic takes it out "
               "at once\n",
               duration(t.detect_down), duration(t.return_up), duration(t.return_after_refusal));
}

void print_pool(const config::Pool& p) {
    fmt::print("  pool {}  {}  retries {}  min_healthy {}{}\n", p.name, config::name_of(p.balance), p.retries,
               p.min_healthy, p.all_backups ? "  all_backups" : "");
    for (const auto& s : p.servers) {
        std::string extra;
        if (s.backup) extra += "  backup";
        if (s.state != config::AdminState::Ready) extra += fmt::format("  state {}", config::name_of(s.state));
        if (s.max_connections) extra += fmt::format("  max_connections {}", s.max_connections);
        if (s.health_check) {
            const auto& o = *s.health_check;
            if (o.port) extra += fmt::format("  check port {}", *o.port);
            if (o.path) extra += fmt::format("  check path {}", *o.path);
        }
        fmt::print("    server {}  {}  weight {}  tier {}{}\n", s.name, s.address.text, s.weight, s.tier(), extra);
    }
    if (std::any_of(p.servers.begin(), p.servers.end(), [](const config::Server& s) { return s.max_connections > 0; })) {
        fmt::print("    queue: at most {} waiting, each for up to {}, when every server it may use is at max_connections\n",
                   p.queue.max, p.queue.timeout.count() ? duration(p.queue.timeout) : "timeouts.connect");
    }
    if (p.role != config::PoolRole::Any) print_role(p);
    if (p.health_check) {
        print_check(*p.health_check);
    } else {
        fmt::print("    no active health check: servers count as up; a refused connect takes one out until it accepts a connection again\n");
    }
}

// What a member's answers depend on: "always", "region eu", "pool web", "server web/w1", "check".
std::string health_text(const config::DnsHealth& h) {
    switch (h.kind) {
    case config::DnsHealth::Kind::Always: return "always";
    case config::DnsHealth::Kind::Region: return "region " + h.region;
    case config::DnsHealth::Kind::Pool: return "pool " + h.pool;
    case config::DnsHealth::Kind::Server: return "server " + h.pool + "/" + h.server;
    case config::DnsHealth::Kind::Check: return "check " + h.check_address.text;
    }
    return "?";
}

// The record set's members in one line: "primary (region eu), secondary (region us)".
std::string members_text(const config::DnsRecordSet& rs) {
    std::string out;
    for (const auto& m : rs.members) {
        std::string who;
        if (rs.routing == config::DnsRouting::Failover) who = m.role == config::FailoverRole::Primary ? "primary " : "secondary ";
        if (rs.routing == config::DnsRouting::Weighted) who = fmt::format("weight {} ", m.weight);
        if (rs.routing == config::DnsRouting::Latency) who = "near " + m.region + " ";
        std::string values;
        for (const auto& v : m.values) values += (values.empty() ? "" : " ") + v.text;
        out += fmt::format("{}{}{} [{}]", out.empty() ? "" : ", ", who, values, health_text(m.health));
    }
    return out;
}

// Regions, DNS listeners and zones, each record set with its routing and what its answers follow.
void print_dns(const config::DnsConfig& d) {
    for (const auto& r : d.regions) {
        fmt::print("  region {}  {} endpoint(s), up while at least {} are up{}\n", r.name, r.endpoints.size(), r.min_healthy,
                   r.clients.empty() ? "" : fmt::format("  clients {}", fmt::join(r.clients, " ")));
        print_check(r.health_check);
    }
    if (!d.server) return;
    for (const auto& l : d.server->listeners) fmt::print("  dns listener {}  {} (udp and tcp)\n", l.name, l.listen.text);
    for (const auto& z : d.server->zones) {
        fmt::print("  zone {}  ttl {}  {} record set(s)\n", z.name, duration(z.ttl), z.records.size());
        for (const auto& rs : z.records) {
            const bool routed = rs.routing != config::DnsRouting::Simple;
            const auto ttl = rs.ttl ? *rs.ttl : routed ? d.server->health_ttl : z.ttl;
            fmt::print("    {} {} {}  ttl {}  {}\n", rs.owner, config::name_of(rs.type), config::name_of(rs.routing),
                       duration(ttl), members_text(rs));
        }
    }
}

} // namespace

int check_config(const std::string& path) {
    auto cfg = load_or_report(path);
    if (!cfg) return 1;
    std::size_t servers = 0;
    for (const auto& p : cfg->pools) servers += p.servers.size();
    std::printf("%s: OK: %zu listener(s), %zu pool(s), %zu server(s)\n", path.c_str(), cfg->listeners.size(),
                cfg->pools.size(), servers);
    for (const auto& l : cfg->listeners) {
        std::printf("  listener %s  %s  %s  %zu route(s)%s%s\n", l.name.c_str(), l.listen.text.c_str(), std::string(config::name_of(l.mode)).c_str(),
                    l.routes.size(), l.pool.empty() ? "" : "  default pool ", l.pool.c_str());
    }
    for (const auto& p : cfg->pools) print_pool(p);
    if (cfg->dns) print_dns(*cfg->dns);
    return 0;
}

int run_proxy(const RunOptions& o) {
    spdlog::set_level(spdlog::level::from_str(o.log_level));
    auto cfg = load_or_report(o.config);
    if (!cfg) return 1;
    try {
        runtime::Runtime runtime(std::make_shared<const config::Config>(std::move(*cfg)));
        return runtime.run();
    } catch (const std::exception& e) {
        spdlog::error("cannot start: {}", e.what());
        return 1;
    }
}

} // namespace haven::app
