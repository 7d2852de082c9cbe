// The effective configuration as JSON, for GET /api/config and `haven ctl config`: every key with
// the value in force (defaults included), durations in milliseconds, the admin token redacted.
#include "admin/api.hpp"

#include <nlohmann/json.hpp>

namespace haven::admin {
namespace {

using nlohmann::json;

std::int64_t ms(config::Duration d) { return d.count(); }


std::string hash_on(const config::HashKey& k) {
    switch (k.on) {
    case config::HashOn::Source: return "source";
    case config::HashOn::Path: return "path";
    case config::HashOn::Header: return "header:" + k.name;
    case config::HashOn::Cookie: return "cookie:" + k.name;
    }
    return "?";
}


json statuses(const std::vector<std::pair<int, int>>& ranges) {
    json out = json::array();
    for (const auto& [lo, hi] : ranges) out.push_back(lo == hi ? json(lo) : json(std::to_string(lo) + "-" + std::to_string(hi)));
    return out;
}

json health_check(const config::HealthCheck& h) {
    json j = {{"interval_ms", ms(h.interval)}, {"timeout_ms", ms(h.timeout)},   {"fast_interval_ms", ms(h.fast_interval)},
              {"down_interval_ms", ms(h.down_interval)}, {"rise", h.rise},    {"fall", h.fall},
              {"jitter", h.jitter},                       {"initial", name_of(h.initial)}, {"port", h.port}};
    if (h.connect) j["connect"] = *h.connect;
    if (h.kind == config::HealthCheck::Kind::Tcp) {
        j["tcp"] = json::object();
    } else if (h.kind == config::HealthCheck::Kind::Postgres) {
        // The password itself is never shown, only where it comes from.
        j["postgres"] = {{"user", h.postgres.user},
                         {"database", h.postgres.database},
                         {"password_file", h.postgres.password_file},
                         {"sslmode", h.postgres.sslmode}};
    } else {
        j["http"] = {{"method", h.method}, {"path", h.path}, {"host", h.host}, {"expect_status", statuses(h.expect_status)},
                     {"expect_body", h.expect_body}};
    }
    return j;
}

const char* role_name(config::PoolRole r) {
    switch (r) {
    case config::PoolRole::Any: return "any";
    case config::PoolRole::Primary: return "primary";
    case config::PoolRole::Replica: return "replica";
    case config::PoolRole::PreferReplica: return "prefer_replica";
    }
    return "?";
}

json breaker(const config::CircuitBreakerPolicy& b) {
    return {{"consecutive_failures", b.consecutive_failures}, {"failure_ratio", b.failure_ratio},
            {"min_requests", b.min_requests},                 {"window_ms", ms(b.window)},
            {"timeout_ms", ms(b.timeout)},                     {"max_timeout_ms", ms(b.max_timeout)},
            {"half_open_requests", b.half_open_requests},      {"close_after", b.close_after},
            {"failure_on", b.failure_on},                      {"slow_call_ms", ms(b.slow_call)}};
}

// The JWT check without its key material: files, kids and algorithms only.
json jwt_policy(const config::JwtPolicy& p) {
    json keys = json::array();
    for (const auto& k : p.keys) {
        keys.push_back({{"file", k.file.empty() ? k.secret_file : k.file},
                        {"kind", k.file.empty() ? "hmac_secret" : "pem"},
                        {"kid", k.kid},
                        {"alg", k.alg}});
    }
    json forward = json::object();
    for (const auto& [claim, header] : p.forward_claims) forward[claim] = header;
    const char* from = p.from == config::JwtFrom::Bearer ? "bearer" : p.from == config::JwtFrom::Header ? "header" : "cookie";
    return {{"issuers", p.issuers},       {"audiences", p.audiences},     {"algorithms", p.algorithms},
            {"keys", keys},               {"jwks_file", p.jwks_file},     {"leeway_ms", ms(p.leeway)},
            {"from", p.from_name.empty() ? std::string(from) : std::string(from) + ":" + p.from_name},
            {"required", p.required},     {"require_exp", p.require_exp}, {"forward_claims", forward},
            {"cache_size", p.cache_size}, {"realm", p.realm}};
}

json policies(const config::Policies& p) {
    json j = json::object();
    if (p.jwt) j["jwt"] = jwt_policy(*p.jwt);
    if (const auto& rl = p.rate_limit) {
        json limits = json::array();
        for (const auto& s : rl->limits) limits.push_back(s.text);
        const auto& k = rl->key;
        const std::string key = k.kind == config::LimitKeyKind::Client ? "client"
                                : k.kind == config::LimitKeyKind::Route ? "route"
                                : k.kind == config::LimitKeyKind::Claim ? "claim:" + k.name
                                : (k.kind == config::LimitKeyKind::Header ? "header:" : "cookie:") + k.name;
        j["rate_limit"] = {{"limits", limits},         {"key", key},
                           {"burst", rl->burst},       {"delay_ms", ms(rl->delay)},
                           {"max_keys", rl->max_keys}, {"trusted_proxies", rl->trusted_proxies}};
    }
    if (p.circuit_breaker) j["circuit_breaker"] = breaker(*p.circuit_breaker);
    if (const auto& b = p.bulkhead) {
        j["bulkhead"] = {{"max_concurrent", b->max_concurrent}, {"max_queue", b->max_queue},
                         {"queue_timeout_ms", ms(b->queue_timeout)}};
    }
    if (const auto& f = p.fault) {
        j["fault"] = {{"abort", {{"percent", f->abort_percent * 100}, {"status", f->abort_status}}},
                      {"delay", {{"percent", f->delay_percent * 100}, {"duration_ms", ms(f->delay)}}},
                      {"header_faults", f->header_faults},
                      {"max_active", f->max_active}};
    }
    if (const auto& fb = p.fallback) {
        json headers = json::object();
        for (const auto& [n, v] : fb->headers) headers[n] = v;
        j["fallback"] = {{"pool", fb->pool},      {"reply", fb->reply},          {"status", fb->status},
                         {"content_type", fb->content_type}, {"body_file", fb->body_file},
                         {"body_bytes", fb->body.size()}, {"headers", headers}};
    }
    return j;
}

json server(const config::Server& s) {
    json j = {{"name", s.name},         {"address", s.address.text}, {"weight", s.weight},
              {"backup", s.backup},     {"priority", s.tier()},      {"state", config::name_of(s.state)},
              {"max_connections", s.max_connections}};
    if (s.health_check) {
        const auto& o = *s.health_check;
        json hc = json::object();
        if (o.path) hc["path"] = *o.path;
        if (o.host) hc["host"] = *o.host;
        if (o.port) hc["port"] = *o.port;
        if (o.expect_body) hc["expect_body"] = *o.expect_body;
        if (o.expect_status) hc["expect_status"] = statuses(*o.expect_status);
        j["health_check"] = hc;
    }
    return j;
}

json pool(const config::Pool& p) {
    json servers = json::array();
    for (const auto& s : p.servers) servers.push_back(server(s));
    json j = {{"name", p.name},
              {"balance", config::name_of(p.balance)},
              {"hash_on", hash_on(p.hash_on)},
              {"servers", servers},
              {"keepalive", {{"max_idle", p.keepalive.max_idle}, {"idle_timeout_ms", ms(p.keepalive.idle_timeout)}}},
              {"outlier_detection",
               {{"consecutive_failures", p.outlier_detection.consecutive_failures},
                {"base_ejection_ms", ms(p.outlier_detection.base_ejection)},
                {"max_ejection_ms", ms(p.outlier_detection.max_ejection)},
                {"max_ejected_percent", p.outlier_detection.max_ejected_percent}}},
              {"min_healthy", p.min_healthy},
              {"all_backups", p.all_backups},
              {"on_all_down", p.on_all_down == config::OnAllDown::TryAll ? "try_all" : "fail"},
              {"slow_start_ms", ms(p.slow_start)},
              {"role", role_name(p.role)},
              {"max_lag_ms", ms(p.max_lag)},
              {"max_lag_bytes", p.max_lag_bytes},
              {"on_marked_down", p.marked_down() == config::OnMarkedDown::ShutdownSessions ? "shutdown_sessions" : "none"},
              {"retries", p.retries},
              {"retry_on", p.retry_on},
              {"per_try_timeout_ms", ms(p.per_try_timeout)},
              {"retry_non_idempotent", p.retry_non_idempotent},
              {"retry_buffer", p.retry_buffer},
              {"max_retry_ratio", p.max_retry_ratio},
              {"min_retries_per_second", p.min_retries_per_second},
              {"retry_backoff_ms", ms(p.retry_backoff)}};
    if (p.health_check) j["health_check"] = health_check(*p.health_check);
    if (p.circuit_breaker) j["circuit_breaker"] = breaker(*p.circuit_breaker);
    j["resource_limits"] = {{"max_requests", p.resource_limits.max_requests},
                            {"max_connections", p.resource_limits.max_connections},
                            {"max_retries", p.resource_limits.max_retries}};
    j["queue"] = {{"max", p.queue.max}, {"timeout_ms", ms(p.queue.timeout)}};
    return j;
}

json slo(const config::Slo& s) {
    return {{"availability", s.availability}, {"latency_p99_ms", ms(s.latency_p99)}, {"error_rate", s.error_rate},
            {"window_ms", ms(s.window)}};
}

json listener(const config::Listener& l) {
    json routes = json::array();
    for (const auto& r : l.routes) {
        json m = nullptr;
        if (r.match) {
            m = json::object();
            if (r.match->host) m["host"] = *r.match->host;
            if (r.match->path_prefix) m["path_prefix"] = *r.match->path_prefix;
            if (r.match->path) m["path"] = *r.match->path;
            if (!r.match->methods.empty()) m["methods"] = r.match->methods;
        }
        routes.push_back({{"match", m}, {"pool", r.pool}, {"policies", policies(r.policies)}});
    }
    json j = {{"name", l.name}, {"listen", l.listen.text}, {"mode", config::name_of(l.mode)},
              {"routes", routes}, {"pool", l.pool}};
    if (l.slo) j["slo"] = slo(*l.slo);
    j["policies"] = policies(l.policies);
    return j;
}

} // namespace

std::string config_json(const config::Config& c) {
    json listeners = json::array();
    for (const auto& l : c.listeners) listeners.push_back(listener(l));
    json pools = json::array();
    for (const auto& p : c.pools) pools.push_back(pool(p));
    json j = {{"source", c.source},
              {"threads", c.threads},
              {"listeners", listeners},
              {"pools", pools},
              {"timeouts",
               {{"connect_ms", ms(c.timeouts.connect)},
                {"request_headers_ms", ms(c.timeouts.request_headers)},
                {"client_idle_ms", ms(c.timeouts.client_idle)},
                {"server_ms", ms(c.timeouts.server)},
                {"drain_ms", ms(c.timeouts.drain)}}},
              {"limits",
               {{"max_header_bytes", c.limits.max_header_bytes},
                {"max_headers", c.limits.max_headers},
                {"max_request_line", c.limits.max_request_line},
                {"max_connections", c.limits.max_connections}}},
              {"access_log", {{"enabled", c.access_log.enabled}, {"path", c.access_log.path}}},
              {"slo", slo(c.slo)}};
    if (c.admin) {
        j["admin"] = {{"listen", c.admin->listen.text},
                      {"token_file", c.admin->token_file},
                      {"allow_writes_without_token", c.admin->allow_writes_without_token},
                      {"token", c.admin->token.empty() ? "" : "(redacted)"}};
    }
    return j.dump(2) + "\n";
}

} // namespace haven::admin
