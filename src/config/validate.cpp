// Cross-item checks (see validate.hpp), plus the numeric ranges again for configs built in code.
// Errors point at the item's own location; checks that concern the whole file have none.
#include "config/validate.hpp"

#include "config/value_rules.hpp"

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
            return;
        }
        if (l.routes.empty() && l.pool.empty()) {
            add(l.loc, path + ": an http listener needs \"routes\" or \"pool\"");
        }
        routes(path, l);
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
        if (p.servers.empty()) add(p.loc, path + ": has no servers");
        range(p.loc, path + ".keepalive.max_idle", rules::kMaxIdle, p.keepalive.max_idle);
        if (p.keepalive.idle_timeout.count() <= 0) {
            add(p.loc, path + ".keepalive.idle_timeout: must be greater than 0");
        }
        std::unordered_map<std::string, SourceLoc> names;
        for (std::size_t j = 0; j < p.servers.size(); ++j) {
            server(path + ".servers[" + std::to_string(j) + "]", p, p.servers[j], names);
        }
    }

    void server(const std::string& path, const Pool& p, const Server& s,
                std::unordered_map<std::string, SourceLoc>& names) {
        if (s.address.text.empty()) add(s.loc, path + ": missing \"address\"");
        range(s.loc, path + ".weight", rules::kWeight, s.weight);
        if (s.name.empty()) return; // only when the address is missing too: reported above
        auto [it, fresh] = names.emplace(s.name, s.loc);
        if (fresh) return;
        add(s.loc, path + ".name: duplicate server name " + rules::quote(s.name) + " in pool " +
                       rules::quote(p.name) + " (first at " + rules::loc_text(it->second) + ")");
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
