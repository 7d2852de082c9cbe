// PoolState's probes and database roles (docs/database-ha.md): which probe each server's check
// runs, how a role pool judges the answers, and the pool-wide role rules applied at every
// publish — one primary at most (two claiming it is a split brain: no writes go anywhere), a
// server whose role is not known yet takes nothing, prefer_replica keeps the primary as the last
// tier, and with on_marked_down: shutdown_sessions the connections to a server that went down end.
#include "upstream/pool_server.hpp"

#include "upstream/health/from_config.hpp"
#include "upstream/health/role.hpp"

#include <fmt/format.h>

namespace haven::upstream {
namespace {

// Priorities go up to 255 (config rules): a primary in a prefer_replica pool serves after them all.
constexpr std::uint32_t kPrimaryFallbackTier = 256;

// The pool's check with the server's overrides applied.
HttpProbeSpec probe_spec(const config::HealthCheck& h, const config::Server& s, const std::optional<config::TlsUpstream>& tls) {
    HttpProbeSpec spec = http_probe_spec(h);
    spec.expect_status.clear();
    auto ranges = h.expect_status;
    if (s.health_check) {
        const auto& o = *s.health_check;
        if (o.path) spec.path = *o.path;
        if (o.host) spec.host = *o.host;
        if (o.expect_body) spec.expect_body = *o.expect_body;
        if (o.expect_status) ranges = *o.expect_status;
    }
    for (const auto& [lo, hi] : ranges) spec.expect_status.push_back({lo, hi});
    if (tls) spec.tls = TlsTarget{tls->context, s.address.host};
    return spec;
}

PgProbeSpec pg_spec(const config::PostgresCheck& c) {
    PgProbeSpec spec;
    spec.user = c.user;
    spec.database = c.database;
    spec.password = c.password;
    spec.sslmode = c.sslmode;
    return spec;
}

bool role_pool(const config::Pool& p) { return p.role != config::PoolRole::Any; }

} // namespace

std::unique_ptr<Probe> PoolState::make_probe(const Server& s, const asio::ip::tcp::endpoint& target) const {
    const auto& h = *config_.health_check;
    if (env_.make_probe) return env_.make_probe(h, s.cfg, target);
    const auto timeout = std::chrono::duration_cast<Duration>(h.timeout);
    std::unique_ptr<Probe> probe;
    if (h.kind == config::HealthCheck::Kind::Tcp) {
        TlsTarget tls;
        if (config_.tls) tls = TlsTarget{config_.tls->context, s.cfg.address.host};
        probe = make_tcp_probe(env_.io, target, timeout, env_.scheduler, std::move(tls));
    } else if (h.kind == config::HealthCheck::Kind::Postgres) {
        probe = make_pg_probe(env_.io, target, pg_spec(h.postgres), timeout, env_.scheduler);
    } else {
        probe = make_http_probe(env_.io, target, probe_spec(h, s.cfg, config_.tls), timeout, env_.scheduler);
    }
    // `connect`: the service's own port must accept too (a check on another port, e.g.
    // Patroni's REST API, says 200 for seconds after PostgreSQL itself died).
    const bool connect = h.connect.value_or(role_pool(config_));
    if (!connect || target == s.info.endpoint) return probe;
    auto first = make_tcp_probe(env_.io, s.info.endpoint, timeout, env_.scheduler);
    return make_probe_sequence(std::move(first), std::move(probe), "service port");
}

void PoolState::judge(ProbeResult& r) const { judge_role(r, role_rule(config_), primary_lsn_); }

bool PoolState::note_role(Server& s, const ProbeResult& r) {
    const bool first = s.checks == 1 && role_pool(config_);
    if (r.role == DbRole::Unknown) return first;
    const bool changed = s.role != r.role;
    s.role = r.role;
    s.lag_seconds = r.lag_seconds;
    if (r.role == DbRole::Primary) primary_lsn_ = r.lsn;
    return first || (changed && role_pool(config_));
}

void PoolState::apply_roles(std::vector<HostView>& v) {
    if (!role_pool(config_)) return;
    const bool postgres = config_.health_check && config_.health_check->kind == config::HealthCheck::Kind::Postgres;
    std::vector<HostIndex> claims;
    for (HostIndex h = 0; h < v.size(); ++h) {
        const Server& s = *servers_[h];
        // Rules: a server with no answer yet takes nothing (its role is not known); in
        // prefer_replica a primary serves only after every replica tier; in a primary pool a
        // server up (its check says primary) and not in maintenance claims the role.
        if (s.checks == 0 || (postgres && s.role == DbRole::Unknown)) {
            v[h].health = HealthStatus::Down;
            continue;
        }
        if (config_.role == config::PoolRole::PreferReplica && s.role == DbRole::Primary) {
            v[h].priority += kPrimaryFallbackTier;
        }
        if (config_.role == config::PoolRole::Primary && v[h].health == HealthStatus::Up &&
            v[h].admin != AdminState::Maint) {
            claims.push_back(h);
        }
    }
    if (config_.role != config::PoolRole::Primary) return;
    const auto before = primaries_;
    primaries_ = static_cast<std::uint32_t>(claims.size());
    if (claims.size() >= 2) {
        std::string names;
        for (HostIndex h : claims) {
            v[h].health = HealthStatus::Down; // no writes to either until one remains
            names += (names.empty() ? "" : ", ") + servers_[h]->cfg.name;
        }
        if (before < 2) {
            ++split_brains_;
            env_.events.add("split_brain", config_.name, "",
                            names + " all claim primary; no connections go to any of them until one remains");
        }
        return;
    }
    if (before >= 2) {
        env_.events.add("split_brain_resolved", config_.name, claims.empty() ? "" : servers_[claims[0]]->cfg.name,
                        claims.empty() ? "no server claims primary now" : "one primary again");
    }
    if (claims.empty() && before > 0) {
        env_.events.add("no_primary", config_.name, "", "no server claims primary; no connections go to the pool");
    }
}

std::vector<std::uint8_t> PoolState::shut_hosts(const std::vector<HostView>& v) const {
    if (config_.marked_down() != config::OnMarkedDown::ShutdownSessions) return {};
    std::vector<std::uint8_t> out(v.size(), 0);
    for (HostIndex h = 0; h < v.size(); ++h) {
        out[h] = v[h].health == HealthStatus::Down || v[h].admin == AdminState::Maint ? 1 : 0;
    }
    return out;
}

} // namespace haven::upstream
