// The schema walk: which keys each mapping accepts and how each value is read. Generic rules
// (unknown keys, types, positions) live in yaml_reader.cpp; cross-item rules in validate.cpp.
#include "config/yaml_loader.hpp"

#include "config/dns_keys.hpp"
#include "config/failover_keys.hpp"
#include "config/observe_keys.hpp"
#include "config/policy_keys.hpp"
#include "config/tls_keys.hpp"
#include "config/sticky_keys.hpp"
#include "config/supervisor_keys.hpp"
#include "config/validate.hpp"
#include "config/yaml_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

namespace haven::config {
namespace {

constexpr std::string_view kTopKeys[] = {"threads", "listeners", "pools", "timeouts",
                                         "limits",  "access_log",
                                         // read in observe_keys.cpp:
                                         "slo", "admin",
                                         // read in supervisor_keys.cpp:
                                         "services",
                                         // read in dns_keys.cpp:
                                         "regions", "dns",
                                         // read in sticky_keys.cpp:
                                         "shared_state"};
constexpr std::string_view kListenerKeys[] = {"name", "listen", "mode", "routes", "pool",
                                              // read in observe_keys.cpp:
                                              "slo",
                                              // read in policy_keys.cpp:
                                              "policies",
                                              // read in tls_keys.cpp:
                                              "tls"};
constexpr std::string_view kRouteKeys[] = {"match", "pool", "policies"};
constexpr std::string_view kMatchKeys[] = {"host", "path_prefix", "path", "methods"};
constexpr std::string_view kPoolKeys[] = {
    "name", "balance", "hash_on", "servers", "keepalive",
    // read in failover_keys.cpp:
    "health_check", "outlier_detection", "min_healthy", "all_backups", "on_all_down", "slow_start",
    "retries", "retry_on", "per_try_timeout", "retry_non_idempotent", "retry_buffer",
    "max_retry_ratio", "min_retries_per_second", "retry_backoff",
    // read in role_keys.cpp (through failover_keys.cpp):
    "role", "max_lag", "max_lag_bytes", "on_marked_down",
    // read in policy_keys.cpp:
    "circuit_breaker", "resource_limits", "queue",
    // read in tls_keys.cpp:
    "tls",
    // read in supervisor_keys.cpp:
    "servers_from",
    // read in sticky_keys.cpp:
    "sticky"};
constexpr std::string_view kServerKeys[] = {
    "name", "address", "weight", "max_connections",
    // read in failover_keys.cpp:
    "backup", "priority", "state", "health_check", "region",
    // read in sticky_keys.cpp:
    "cookie"};
constexpr std::string_view kKeepaliveKeys[] = {"max_idle", "idle_timeout"};
constexpr std::string_view kTimeoutKeys[] = {"connect", "request_headers", "client_idle", "server",
                                             "drain"};
constexpr std::string_view kLimitKeys[] = {"max_header_bytes", "max_headers", "max_request_line",
                                           "max_connections"};
constexpr std::string_view kAccessLogKeys[] = {"path", "enabled"};

constexpr EnumValue kModes[] = {{"http", static_cast<int>(ListenerMode::Http)},
                                {"tcp", static_cast<int>(ListenerMode::Tcp)}};
constexpr EnumValue kBalances[] = {{"roundrobin", static_cast<int>(Balance::RoundRobin)},
                                   {"leastconn", static_cast<int>(Balance::LeastConn)},
                                   {"random2", static_cast<int>(Balance::Random2)},
                                   {"hash", static_cast<int>(Balance::Hash)}};

// Larger files are not configs; refusing them early bounds yaml-cpp's time and memory.
constexpr std::size_t kMaxFileBytes = std::size_t{4} << 20;
constexpr std::size_t kMaxReportedErrors = 50;

class SchemaLoader {
public:
    SchemaLoader(Reader& reader, Config& config) : r_(reader), c_(config) {}

    // Returns false if the document is not a mapping (nothing to validate then).
    bool load(const YAML::Node& doc) {
        Field top{YAML::Mark::null_mark(), doc, ""};
        bool is_map = r_.each_key(top, kTopKeys, [&](std::string_view key, const Field& f) {
            if (key == "threads") {
                std::uint32_t threads = 0;
                if (r_.read_uint(f, rules::kThreads, threads)) c_.threads = threads;
            } else if (key == "listeners") {
                r_.each_item(f, [&](std::size_t, const Field& item) { listener(item); });
            } else if (key == "pools") {
                r_.each_item(f, [&](std::size_t, const Field& item) { pool(item); });
            } else if (key == "timeouts") {
                timeouts(f);
            } else if (key == "limits") {
                limits(f);
            } else if (key == "access_log") {
                access_log(f);
            } else if (key == "slo") {
                read_slo(r_, f, c_.slo);
            } else if (key == "admin") {
                read_admin(r_, f, c_.admin.emplace());
            } else if (key == "services") {
                read_services(r_, f, c_.supervisor);
            } else if (key == "regions" || key == "dns") {
                read_dns_key(r_, key, f, c_);
            } else if (key == "shared_state") {
                read_shared_state(r_, f, c_.shared_state.emplace());
            }
        });
        expand_servers_from(r_, c_); // a pool may name a service written further down
        // A listener's slo starts from the top-level one, which may come later in the file.
        for (const auto& [index, f] : listener_slos_) {
            read_slo(r_, f, c_.listeners[index].slo.emplace(c_.slo));
        }
        return is_map;
    }

private:
    bool read_name(const Field& f, std::string& out) {
        if (!r_.read_string(f, out)) return false;
        if (rules::is_object_name(out)) return true;
        r_.error(f, "invalid name " + rules::quote(out) +
                        " (use 1 to 128 letters, digits and - _ . : [ ])");
        return true; // kept as written so references to it do not cascade into more errors
    }

    void listener(const Field& item) {
        Listener& l = c_.listeners.emplace_back();
        l.loc = r_.loc(item);
        std::optional<Field> tls;
        r_.each_key(item, kListenerKeys, [&](std::string_view key, const Field& f) {
            if (key == "name") read_name(f, l.name);
            else if (key == "listen") r_.read_endpoint(f, true, l.listen);
            else if (key == "mode") r_.read_enum(f, kModes, l.mode);
            else if (key == "pool") r_.read_string(f, l.pool);
            else if (key == "slo") listener_slos_.emplace_back(c_.listeners.size() - 1, f);
            else if (key == "policies") read_policies(r_, f, l.policies);
            else if (key == "tls") tls = f;
            else if (key == "routes") {
                r_.each_item(f, [&](std::size_t, const Field& ri) { route(ri, l); });
            }
        });
        if (tls) read_listener_tls(r_, *tls, l); // needs the name and mode
    }

    void route(const Field& item, Listener& l) {
        Route& route = l.routes.emplace_back();
        route.loc = r_.loc(item);
        r_.each_key(item, kRouteKeys, [&](std::string_view key, const Field& f) {
            if (key == "pool") r_.read_string(f, route.pool);
            else if (key == "match") match(f, route.match.emplace());
            else if (key == "policies") read_policies(r_, f, route.policies);
        });
    }

    void match(const Field& m, RouteMatch& out) {
        r_.each_key(m, kMatchKeys, [&](std::string_view key, const Field& f) {
            std::string text;
            if (key == "methods") {
                methods(f, out.methods);
                return;
            }
            if (!r_.read_string(f, text)) return;
            if (key == "host") {
                if (!rules::is_host_pattern(text)) {
                    r_.error(f, "invalid host " + rules::quote(text) +
                                    " (a host name without port; a wildcard only as a leading"
                                    " \"*.\")");
                }
                out.host = std::move(text);
            } else {
                if (!rules::is_path(text)) {
                    r_.error(f, "invalid path " + rules::quote(text) +
                                    " (must start with '/' and contain no spaces or control"
                                    " characters)");
                }
                (key == "path" ? out.path : out.path_prefix) = std::move(text);
            }
        });
    }

    void methods(const Field& list, std::vector<std::string>& out) {
        r_.each_item(list, [&](std::size_t, const Field& item) {
            std::string method;
            if (!r_.read_string(item, method)) return;
            if (!rules::is_method(method)) {
                r_.error(item, "invalid method " + rules::quote(method) +
                                   " (an uppercase token such as GET or POST)");
            }
            out.push_back(std::move(method));
        });
    }

    void pool(const Field& item) {
        Pool& p = c_.pools.emplace_back();
        p.loc = r_.loc(item);
        r_.each_key(item, kPoolKeys, [&](std::string_view key, const Field& f) {
            if (key == "name") read_name(f, p.name);
            else if (key == "balance") r_.read_enum(f, kBalances, p.balance);
            else if (key == "hash_on") hash_on(f, p.hash_on);
            else if (key == "keepalive") keepalive(f, p.keepalive);
            else if (key == "servers") {
                r_.each_item(f, [&](std::size_t, const Field& si) { server(si, p); });
            } else if (key == "circuit_breaker") {
                read_pool_breaker(r_, f, p.circuit_breaker.emplace());
            } else if (key == "resource_limits") {
                read_resource_limits(r_, f, p);
            } else if (key == "queue") {
                read_server_queue(r_, f, p);
            } else if (key == "tls") {
                read_pool_tls(r_, f, p.tls.emplace());
            } else if (key == "sticky") {
                read_pool_sticky(r_, f, p.sticky.emplace());
            } else if (key == "servers_from") {
                read_servers_from(r_, f, c_, c_.pools.size() - 1);
            } else {
                read_pool_failover_key(r_, key, f, p);
            }
        });
    }

    // Rules: source | path | header:NAME | cookie:NAME, NAME an RFC 9110 token.
    void hash_on(const Field& f, HashKey& out) {
        std::string text;
        if (!r_.read_string(f, text)) return;
        if (text == "source" || text == "path") {
            out = HashKey{text == "source" ? HashOn::Source : HashOn::Path, {}};
            return;
        }
        auto colon = text.find(':');
        std::string kind = text.substr(0, colon);
        if (colon == std::string::npos || (kind != "header" && kind != "cookie")) {
            r_.error(f, "unknown value " + rules::quote(text) +
                            " (expected source, path, header:NAME or cookie:NAME)");
            return;
        }
        std::string name = text.substr(colon + 1);
        if (!rules::is_token(name)) {
            std::string example = kind == "header" ? "header:X-User-Id" : "cookie:session";
            r_.error(f, "invalid " + kind + " name " + rules::quote(name) + " in " +
                            rules::quote(text) + " (e.g. " + example + ")");
            return;
        }
        out = HashKey{kind == "header" ? HashOn::Header : HashOn::Cookie, std::move(name)};
    }

    void server(const Field& item, Pool& p) {
        Server& s = p.servers.emplace_back();
        s.loc = r_.loc(item);
        bool named = false;
        r_.each_key(item, kServerKeys, [&](std::string_view key, const Field& f) {
            if (key == "name") named = read_name(f, s.name);
            else if (key == "address") r_.read_endpoint(f, false, s.address);
            else if (key == "weight") r_.read_uint(f, rules::kWeight, s.weight);
            else if (key == "max_connections") r_.read_uint(f, rules::kMaxQueue, s.max_connections);
            else if (key == "cookie") read_server_cookie(r_, f, s.cookie);
            else read_server_failover_key(r_, key, f, s);
        });
        // A server is commonly known by its address; naming it is optional.
        if (!named && s.name.empty()) s.name = s.address.text;
    }

    void keepalive(const Field& m, UpstreamKeepalive& out) {
        r_.each_key(m, kKeepaliveKeys, [&](std::string_view key, const Field& f) {
            if (key == "max_idle") r_.read_uint(f, rules::kMaxIdle, out.max_idle);
            else if (key == "idle_timeout") r_.read_duration(f, false, out.idle_timeout);
        });
    }

    void timeouts(const Field& m) {
        Timeouts& t = c_.timeouts;
        r_.each_key(m, kTimeoutKeys, [&](std::string_view key, const Field& f) {
            // drain: 0 means "close at once"; every other timeout of 0 would fire immediately.
            if (key == "connect") r_.read_duration(f, false, t.connect);
            else if (key == "request_headers") r_.read_duration(f, false, t.request_headers);
            else if (key == "client_idle") r_.read_duration(f, false, t.client_idle);
            else if (key == "server") r_.read_duration(f, false, t.server);
            else if (key == "drain") r_.read_duration(f, true, t.drain);
        });
    }

    void limits(const Field& m) {
        Limits& lim = c_.limits;
        lim.loc = r_.loc(m);
        bool request_line_set = false;
        r_.each_key(m, kLimitKeys, [&](std::string_view key, const Field& f) {
            if (key == "max_header_bytes") {
                r_.read_size(f, rules::kMaxHeaderBytes, lim.max_header_bytes);
            } else if (key == "max_headers") {
                r_.read_uint(f, rules::kMaxHeaders, lim.max_headers);
            } else if (key == "max_request_line") {
                request_line_set = true;
                r_.read_size(f, rules::kMaxRequestLine, lim.max_request_line);
            } else if (key == "max_connections") {
                r_.read_uint(f, rules::kMaxConnections, lim.max_connections);
            }
        });
        // The request line is part of the head: a smaller head limit lowers its default too, so
        // that setting max_header_bytes alone never trips the cross-check in validate().
        if (!request_line_set) {
            lim.max_request_line = std::min(lim.max_request_line, lim.max_header_bytes);
        }
    }

    // Rules: a mapping with `path` turns logging on; `enabled: false` turns it off (path or not).
    void access_log(const Field& m) {
        AccessLog& log = c_.access_log;
        std::optional<bool> enabled;
        bool path_ok = false;
        bool path_given = false;
        bool ok = r_.each_key(m, kAccessLogKeys, [&](std::string_view key, const Field& f) {
            if (key == "enabled") {
                bool v = true;
                if (r_.read_bool(f, v)) enabled = v;
            } else if (key == "path") {
                path_given = true;
                path_ok = r_.read_string(f, log.path);
                if (path_ok && log.path.empty()) {
                    r_.error(f, "must not be empty (a file, stdout or stderr)");
                    path_ok = false;
                }
            }
        });
        if (!ok || enabled == false) return;
        if (!path_given) {
            r_.error(m, "missing \"path\" (a file, stdout or stderr; or enabled: false)");
        }
        log.enabled = path_ok;
    }


    Reader& r_;
    Config& c_;
    std::vector<std::pair<std::size_t, Field>> listener_slos_; // listener index, its `slo:`
};

std::vector<ConfigError> load_into(std::string_view yaml, Config& config,
                                   const LoadOptions& options) {
    const std::string& name = config.source;
    if (yaml.size() > kMaxFileBytes) {
        return {ConfigError{name, 0, 0, "file too large (" + std::to_string(yaml.size()) +
                                             " bytes; at most 4 MiB)"}};
    }
    YAML::Node doc;
    if (auto failure = parse_yaml(yaml, name, doc)) return {*failure};
    Reader reader(name, options.resolve_host);
    // An empty file or a lone "---" is an empty config: validate() says what is missing.
    bool is_map = doc.IsNull() || SchemaLoader(reader, config).load(doc);
    std::vector<ConfigError> errors = reader.take_errors();
    if (is_map) {
        auto more = validate(config);
        errors.insert(errors.end(), more.begin(), more.end());
    }
    return errors;
}

// Document order: position-less errors (file-level) first, then by line and column.
void sort_and_cap(std::vector<ConfigError>& errors) {
    std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
        return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    if (errors.size() <= kMaxReportedErrors) return;
    std::size_t cut = errors.size() - kMaxReportedErrors;
    std::string file = errors.front().file;
    errors.resize(kMaxReportedErrors);
    errors.push_back(ConfigError{file, 0, 0,
                                 "too many errors; " + std::to_string(cut) + " more not shown"});
}

// Reads the whole file; an error names the reason (strerror) and has no position.
std::optional<std::string> read_file(const std::string& path, std::vector<ConfigError>& errors) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        errors.push_back({path, 0, 0, std::string("cannot open: ") + std::strerror(errno)});
        return std::nullopt;
    }
    std::string text;
    char buf[65536];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text.size() <= kMaxFileBytes) {
        text.append(buf, n);
    }
    bool failed = std::ferror(f) != 0;
    int err = errno;
    std::fclose(f);
    if (failed) {
        errors.push_back({path, 0, 0, std::string("cannot read: ") + std::strerror(err)});
        return std::nullopt;
    }
    return text;
}

} // namespace

LoadResult load_string(std::string_view yaml, const std::string& name, const LoadOptions& options) {
    LoadResult result;
    Config config;
    config.source = name;
    try {
        result.errors = load_into(yaml, config, options);
    } catch (const std::exception& e) {
        result.errors.push_back({name, 0, 0, std::string("internal error: ") + e.what()});
    } catch (...) {
        result.errors.push_back({name, 0, 0, "internal error"});
    }
    sort_and_cap(result.errors);
    if (result.errors.empty()) result.config = std::move(config);
    return result;
}

LoadResult load_string(std::string_view yaml, const std::string& name) {
    return load_string(yaml, name, LoadOptions{});
}

LoadResult load_file(const std::string& path, const LoadOptions& options) {
    LoadResult result;
    try {
        auto text = read_file(path, result.errors);
        if (!text) return result;
        return load_string(*text, path, options);
    } catch (...) {
        result.errors.push_back({path, 0, 0, "cannot read: out of memory"});
        return result;
    }
}

LoadResult load_file(const std::string& path) { return load_file(path, LoadOptions{}); }

} // namespace haven::config
