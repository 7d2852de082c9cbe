// Cross-item checks (see validate.hpp), plus the value rules again for configs built in code.
// Errors point at the item's own location; checks that concern the whole file have none.
#include "config/validate.hpp"

#include "config/dns_keys.hpp"
#include "config/jwt_keys.hpp"
#include "config/observe_keys.hpp"
#include "config/value_rules.hpp"
#include "config/retry_on.hpp"
#include "config/role_keys.hpp"
#include "config/sticky_keys.hpp"

#include <cstdio>
#include <unordered_map>

namespace haven::config {
namespace {

// Suggesting a pool name costs an edit distance per pool; beyond this many pools it is skipped.
constexpr std::size_t kMaxSuggestionCandidates = 200;

class Checker {
public:
    explicit Checker(const Config& config) : c_(config) {
        for (const auto& p : c_.pools) {
            if (!p.name.empty()) pools_.emplace(p.name, &p);
        }
    }

    std::vector<ConfigError> run() {
        if (c_.listeners.empty()) add({}, "no listeners: define at least one under \"listeners\"");
        if (c_.pools.empty()) add({}, "no pools: define at least one under \"pools\"");
        global_limits();
        for (std::size_t i = 0; i < c_.listeners.size(); ++i) listener(i);
        for (std::size_t i = 0; i < c_.pools.size(); ++i) pool(i);
        check_observe_keys(c_, errors_); // slo and admin
        check_dns_keys(c_, errors_);     // regions and dns
        check_sticky_keys(c_, errors_);  // pools' sticky and servers' cookie
        return std::move(errors_);
    }

private:
    void add(SourceLoc loc, std::string message) {
        errors_.push_back(ConfigError{c_.source, loc.line, loc.column, std::move(message)});
    }

    void range(SourceLoc loc, const std::string& path, rules::Range r, std::uint64_t v) {
        if (r.contains(v)) return;
        add(loc, path + ": must be from " + std::to_string(r.min) + " to " + std::to_string(r.max) +
                     ", got " + std::to_string(v));
    }

    void positive(const std::string& path, Duration d) {
        if (d.count() <= 0 || d.count() > rules::kMaxDurationMs) {
            add({}, path + ": must be greater than 0 and at most 8760h");
        }
    }

    // For configs built in code; the loader already refused such values where it read them.
    void duration(SourceLoc loc, const std::string& path, Duration d, bool allow_zero) {
        if (d.count() >= (allow_zero ? 0 : 1) && d.count() <= rules::kMaxDurationMs) return;
        add(loc, path + (allow_zero ? ": must be from 0 to 8760h"
                                    : ": must be greater than 0 and at most 8760h"));
    }

    void fraction(SourceLoc loc, const std::string& path, double v, double max) {
        if (v >= 0 && v <= max) return; // false for NaN too
        char text[64];
        std::snprintf(text, sizeof text, ": must be a fraction from 0 to %g, got %g", max, v);
        add(loc, path + text);
    }

    void global_limits() {
        if (c_.threads != 0) range({}, "threads", rules::kThreads, c_.threads);
        const Limits& l = c_.limits;
        range(l.loc, "limits.max_header_bytes", rules::kMaxHeaderBytes, l.max_header_bytes);
        range(l.loc, "limits.max_headers", rules::kMaxHeaders, l.max_headers);
        range(l.loc, "limits.max_request_line", rules::kMaxRequestLine, l.max_request_line);
        range(l.loc, "limits.max_connections", rules::kMaxConnections, l.max_connections);
        if (l.max_request_line > l.max_header_bytes) {
            add(l.loc, "limits.max_request_line: " + std::to_string(l.max_request_line) +
                           " exceeds limits.max_header_bytes (" +
                           std::to_string(l.max_header_bytes) + "); the request line is part of "
                           "the head");
        }
        const Timeouts& t = c_.timeouts;
        positive("timeouts.connect", t.connect);
        positive("timeouts.request_headers", t.request_headers);
        positive("timeouts.client_idle", t.client_idle);
        positive("timeouts.server", t.server);
        if (t.drain.count() < 0 || t.drain.count() > rules::kMaxDurationMs) {
            add({}, "timeouts.drain: must be from 0 to 8760h");
        }
        if (c_.access_log.enabled && c_.access_log.path.empty()) {
            add({}, "access_log.path: missing (a file, stdout or stderr)");
        }
    }

    // "unknown pool "x" (did you mean "y"?)"
    std::string unknown_pool(const std::string& name) {
        std::string message = "unknown pool " + rules::quote(name);
        if (c_.pools.size() > kMaxSuggestionCandidates) return message;
        std::vector<std::string_view> names;
        for (const auto& p : c_.pools) names.push_back(p.name);
        if (auto near = rules::closest(name, names)) {
            message += " (did you mean \"" + std::string(*near) + "\"?)";
        }
        return message;
    }

    void listener(std::size_t i) {
        const Listener& l = c_.listeners[i];
        std::string path = "listeners[" + std::to_string(i) + "]";
        if (l.name.empty()) {
            add(l.loc, path + ": missing \"name\"");
        } else if (auto [it, fresh] = listener_names_.emplace(l.name, l.loc); !fresh) {
            add(l.loc, path + ".name: duplicate listener name " + rules::quote(l.name) +
                           " (first at " + rules::loc_text(it->second) + ")");
        }
        listen_address(path, l);
        if (!l.pool.empty() && !pools_.contains(l.pool)) {
            add(l.loc, path + ".pool: " + unknown_pool(l.pool));
        }
        if (l.mode == ListenerMode::Tcp) {
            if (l.pool.empty()) add(l.loc, path + ": a tcp listener needs \"pool\"");
            if (!l.routes.empty()) {
                add(l.routes.front().loc, path + ".routes: a tcp listener cannot have routes (it "
                                                 "does not see requests); use \"pool\"");
            }
            if (!l.policies.empty()) {
                add(l.policies.loc, path + ".policies: a tcp listener sees no requests; policies apply to "
                                           "http listeners");
            }
            return;
        }
        if (l.routes.empty() && l.pool.empty()) {
            add(l.loc, path + ": an http listener needs \"routes\" or \"pool\"");
        }
        fallback_pool(path, l.policies, nullptr);
        routes(path, l);
        check_claim_limit_keys(l, path, c_.source, errors_);
    }

    // Rules: a fallback pool exists, and a route's own fallback is not the pool it already uses (a
    // listener's default fallback is skipped on the routes whose pool it is).
    void fallback_pool(const std::string& path, const Policies& p, const std::string* route_pool) {
        if (!p.fallback || p.fallback->pool.empty()) return;
        const auto& fb = *p.fallback;
        const std::string at = path + ".policies.fallback.pool: ";
        if (!pools_.contains(fb.pool)) {
            add(fb.pool_loc, at + unknown_pool(fb.pool));
        } else if (route_pool && *route_pool == fb.pool) {
            add(fb.pool_loc, at + "is the route's own pool; a fallback pool must be another one");
        }
    }

    // Rules: "listen" is required; two listeners cannot share a host:port (port 0 asks the
    // kernel for a free port, so those never collide).
    void listen_address(const std::string& path, const Listener& l) {
        if (l.listen.text.empty()) {
            add(l.loc, path + ": missing \"listen\"");
            return;
        }
        if (l.listen.port == 0 || l.listen.host.empty()) return;
        std::string key =
            rules::canonical_host(l.listen.host) + "|" + std::to_string(l.listen.port);
        auto [it, fresh] = listen_addresses_.emplace(key, &l);
        if (fresh) return;
        add(l.loc, path + ".listen: " + l.listen.text + " is already used by listener " +
                       rules::quote(it->second->name) + " at " + rules::loc_text(it->second->loc));
    }

    // Rules: first match wins, so a route without match (or with an empty one) must come last,
    // and then the listener's own "pool" (an implicit final route) would never be used.
    void routes(const std::string& path, const Listener& l) {
        for (std::size_t j = 0; j < l.routes.size(); ++j) {
            const Route& r = l.routes[j];
            std::string rpath = path + ".routes[" + std::to_string(j) + "]";
            if (r.pool.empty()) {
                add(r.loc, rpath + ": missing \"pool\"");
            } else if (!pools_.contains(r.pool)) {
                add(r.loc, rpath + ".pool: " + unknown_pool(r.pool));
            }
            fallback_pool(rpath, r.policies, &r.pool);
            if (r.match && is_empty(*r.match)) {
                add(r.loc, rpath + ".match: has no conditions; leave out \"match\" for a "
                                   "default route");
            }
            if (r.match) continue;
            if (j + 1 < l.routes.size()) {
                add(r.loc, rpath + ": a route without \"match\" matches every request, so "
                                   "routes[" + std::to_string(j + 1) + "] and later are "
                                   "unreachable; move it to the end");
            } else if (!l.pool.empty()) {
                add(r.loc, rpath + ": a route without \"match\" matches every request, so the "
                                   "listener's \"pool\" (" + l.pool + ") is never used");
            }
        }
    }

    static bool is_empty(const RouteMatch& m) {
        return !m.host && !m.path_prefix && !m.path && m.methods.empty();
    }

    void pool(std::size_t i) {
        const Pool& p = c_.pools[i];
        std::string path = "pools[" + std::to_string(i) + "]";
        if (p.name.empty()) {
            add(p.loc, path + ": missing \"name\"");
        } else if (auto it = pools_.find(p.name); it != pools_.end() && it->second != &p) {
            add(p.loc, path + ".name: duplicate pool name " + rules::quote(p.name) + " (first at " +
                           rules::loc_text(it->second->loc) + ")");
        }
        // A pool with servers_from gets its servers from a service; an error there is reported there.
        if (p.servers.empty() && !c_.supervisor.feeds_pool(i)) add(p.loc, path + ": has no servers");
        range(p.loc, path + ".keepalive.max_idle", rules::kMaxIdle, p.keepalive.max_idle);
        if (p.keepalive.idle_timeout.count() <= 0) {
            add(p.loc, path + ".keepalive.idle_timeout: must be greater than 0");
        }
        failover(path, p);
        server_queue(path, p);
        std::unordered_map<std::string, SourceLoc> names;
        for (std::size_t j = 0; j < p.servers.size(); ++j) {
            server(path + ".servers[" + std::to_string(j) + "]", p, p.servers[j], names);
        }
    }

    // A queue only ever holds requests for servers with max_connections: without one it is a
    // setting that does nothing, which is refused rather than silently ignored.
    void server_queue(const std::string& path, const Pool& p) {
        range(p.queue.loc.line ? p.queue.loc : p.loc, path + ".queue.max", rules::kMaxQueue, p.queue.max);
        duration(p.queue.loc.line ? p.queue.loc : p.loc, path + ".queue.timeout", p.queue.timeout, true);
        const bool capped = std::any_of(p.servers.begin(), p.servers.end(), [](const Server& s) { return s.max_connections > 0; });
        if (p.queue.loc.line != 0 && !capped) {
            add(p.queue.loc, path + ".queue: no server of the pool has max_connections, so no request would ever wait here "
                                    "(set servers[].max_connections, or remove queue)");
        }
    }

    void server(const std::string& path, const Pool& p, const Server& s,
                std::unordered_map<std::string, SourceLoc>& names) {
        if (s.address.text.empty()) add(s.loc, path + ": missing \"address\"");
        range(s.loc, path + ".weight", rules::kWeight, s.weight);
        if (s.priority) range(s.loc, path + ".priority", rules::kPriority, *s.priority);
        if (s.health_check) check_override(path + ".health_check", p, *s.health_check);
        if (s.name.empty()) return; // only when the address is missing too: reported above
        auto [it, fresh] = names.emplace(s.name, s.loc);
        if (fresh) return;
        add(s.loc, path + ".name: duplicate server name " + rules::quote(s.name) + " in pool " +
                       rules::quote(p.name) + " (first at " + rules::loc_text(it->second) + ")");
    }

    // Tiers, health checks, outlier detection and retries. The loader checks each value where it
    // reads it, and the two orderings within a mapping too (failover_keys.cpp), so for a loaded
    // config these fire only on what no single key shows.
    void failover(const std::string& path, const Pool& p) {
        range(p.loc, path + ".min_healthy", rules::kMinHealthy, p.min_healthy);
        duration(p.loc, path + ".slow_start", p.slow_start, true);
        if (p.health_check) health_check(path + ".health_check", *p.health_check);
        const OutlierDetection& o = p.outlier_detection;
        outlier(path + ".outlier_detection", o.loc.line != 0 ? o.loc : p.loc, o);
        range(p.loc, path + ".retries", rules::kRetries, p.retries);
        for (const auto& item : p.retry_on) {
            if (!parse_retry_on(item)) {
                add(p.loc, path + ".retry_on: unknown value " + rules::quote(item));
            }
        }
        duration(p.loc, path + ".per_try_timeout", p.per_try_timeout, true);
        range(p.loc, path + ".retry_buffer", rules::kRetryBuffer, p.retry_buffer);
        fraction(p.loc, path + ".max_retry_ratio", p.max_retry_ratio, rules::kMaxRetryRatio);
        range(p.loc, path + ".min_retries_per_second", rules::kMinRetriesPerSecond, p.min_retries_per_second);
        duration(p.loc, path + ".retry_backoff", p.retry_backoff, false);
        check_pool_roles(p, path, [this](SourceLoc loc, std::string m) { add(loc, std::move(m)); });
    }

    // Rules: as in failover_keys.cpp, and a check ends before the next is due (timeout < interval).
    void health_check(const std::string& path, const HealthCheck& h) {
        duration(h.loc, path + ".interval", h.interval, false);
        duration(h.loc, path + ".timeout", h.timeout, false);
        duration(h.loc, path + ".fast_interval", h.fast_interval, false);
        duration(h.loc, path + ".down_interval", h.down_interval, false);
        range(h.loc, path + ".rise", rules::kRiseFall, h.rise);
        range(h.loc, path + ".fall", rules::kRiseFall, h.fall);
        fraction(h.loc, path + ".jitter", h.jitter, rules::kMaxJitter);
        if (h.timeout > h.interval) {
            add(h.loc, path + ".timeout: " + rules::duration_text(h.timeout) +
                           " must not exceed interval (" + rules::duration_text(h.interval) + ")");
        }
        if (!rules::is_method(h.method)) {
            add(h.loc, path + ".http.method: invalid method " + rules::quote(h.method));
        }
        probe_path(h.loc, path + ".http.path", h.path);
        if (!h.host.empty()) probe_host(h.loc, path + ".http.host", h.host);
        probe_body(h.loc, path + ".http.expect_body", h.expect_body);
        statuses(h.loc, path + ".http.expect_status", h.expect_status);
    }

    void check_override(const std::string& path, const Pool& p, const HealthCheckOverride& o) {
        if (!p.health_check) {
            add(o.loc, path + ": pool " + rules::quote(p.name) + " has no health_check to "
                              "override (add one to the pool, or remove this)");
        }
        if (o.path) probe_path(o.loc, path + ".path", *o.path);
        if (o.host) probe_host(o.loc, path + ".host", *o.host);
        if (o.expect_body) probe_body(o.loc, path + ".expect_body", *o.expect_body);
        if (o.expect_status) statuses(o.loc, path + ".expect_status", *o.expect_status);
        if (o.port) range(o.loc, path + ".port", rules::kPort, *o.port);
    }

    // What goes into a probe's request must not break it: no CR, LF or other control bytes.
    void probe_path(SourceLoc loc, const std::string& path, const std::string& v) {
        if (!rules::is_path(v)) add(loc, path + ": invalid path " + rules::quote(v));
    }
    void probe_host(SourceLoc loc, const std::string& path, const std::string& v) {
        if (!rules::is_host_header(v)) add(loc, path + ": invalid host " + rules::quote(v));
    }
    void probe_body(SourceLoc loc, const std::string& path, const std::string& v) {
        if (rules::has_control_char(v, true)) {
            add(loc, path + ": contains a control character: " + rules::quote(v));
        }
    }

    void statuses(SourceLoc loc, const std::string& path,
                  const std::vector<std::pair<int, int>>& ranges) {
        if (ranges.empty()) add(loc, path + ": must list at least one status");
        for (const auto& r : ranges) {
            if (rules::is_status_range(r)) continue;
            add(loc, path + ": invalid status range " + std::to_string(r.first) + "-" +
                         std::to_string(r.second) + " (statuses are 100 to 599, lower first)");
        }
    }

    // Rule: ejections grow from base_ejection up to max_ejection, so base <= max.
    void outlier(const std::string& path, SourceLoc loc, const OutlierDetection& o) {
        range(loc, path + ".consecutive_failures", rules::kConsecutiveFailures,
              o.consecutive_failures);
        duration(loc, path + ".base_ejection", o.base_ejection, false);
        duration(loc, path + ".max_ejection", o.max_ejection, false);
        range(loc, path + ".max_ejected_percent", rules::kMaxEjectedPercent,
              o.max_ejected_percent);
        if (o.max_ejection < o.base_ejection) {
            add(loc, path + ".max_ejection: " + rules::duration_text(o.max_ejection) +
                         " is less than base_ejection (" +
                         rules::duration_text(o.base_ejection) + ")");
        }
    }

    const Config& c_;
    std::unordered_map<std::string, const Pool*> pools_; // first pool of each name
    std::unordered_map<std::string, SourceLoc> listener_names_;
    std::unordered_map<std::string, const Listener*> listen_addresses_;
    std::vector<ConfigError> errors_;
};

} // namespace

std::vector<ConfigError> validate(const Config& config) { return Checker(config).run(); }

} // namespace haven::config
