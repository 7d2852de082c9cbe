// `services:` and `servers_from:` (see supervisor_keys.hpp and docs/supervisor.md).
#include "config/supervisor_keys.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>

namespace haven::config {
namespace {

constexpr std::string_view kServiceKeys[] = {
    "name",      "command",   "args",          "env",       "cwd",         "user",       "replicas",
    "ports",     "host",      "restart",       "restart_delay", "max_restart_delay", "reset_after",
    "crash_loop", "drain_timeout", "stop_grace", "ready_timeout", "liveness",  "readiness",   "log"};
constexpr std::string_view kProbeKeys[] = {"http", "tcp", "exec", "port", "initial_delay", "period",
                                           "timeout", "failure_threshold", "success_threshold"};
constexpr std::string_view kHttpProbeKeys[] = {"path", "host", "expect_status"};
constexpr std::string_view kTcpProbeKeys[] = {"port"};
constexpr std::string_view kCrashLoopKeys[] = {"restarts", "window", "delay"};
constexpr std::string_view kLogKeys[] = {"max_line", "lines_per_second"};
constexpr std::string_view kServersFromKeys[] = {"service"};

constexpr EnumValue kRestart[] = {{"always", static_cast<int>(RestartMode::Always)},
                                  {"on-failure", static_cast<int>(RestartMode::OnFailure)},
                                  {"never", static_cast<int>(RestartMode::Never)}};

constexpr rules::Range kReplicas{1, 256};
constexpr rules::Range kThreshold{1, 100};
constexpr rules::Range kCrashRestarts{1, 1000};
constexpr rules::Range kMaxLine{256, 1 << 20};
constexpr rules::Range kLinesPerSecond{1, 100'000};

SupervisorLoc sloc(SourceLoc l) { return {l.line, l.column}; }

// A field that reports at a remembered position (for checks made after the walk).
Field field_at(SupervisorLoc l, std::string path) {
    YAML::Mark m;
    m.line = l.line - 1;
    m.column = l.column - 1;
    return Field{m, YAML::Node(), std::move(path)};
}

bool is_env_name(std::string_view s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
    for (char c : s) {
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
}

bool executable_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Rules: a command with a '/' names an executable file (relative to the service's cwd when it has
// one, as exec sees it); a bare name is looked up in PATH (the service's env PATH, else haven's).
std::optional<std::string> find_executable(const std::string& cmd, const std::string& cwd, const std::string& path_env,
                                           std::string& error) {
    if (cmd.find('/') != std::string::npos) {
        std::string full = cmd;
        if (cmd[0] != '/') {
            char here[4096];
            const std::string base = !cwd.empty() ? cwd : (::getcwd(here, sizeof here) ? here : ".");
            full = base + "/" + cmd;
        }
        if (executable_file(full)) return full;
        error = "command " + rules::quote(cmd) + " is not an executable file" + (full != cmd ? " (" + full + ")" : "");
        return std::nullopt;
    }
    std::size_t start = 0;
    while (start <= path_env.size()) {
        const auto end = std::min(path_env.find(':', start), path_env.size());
        const std::string dir = path_env.substr(start, end - start);
        const std::string full = (dir.empty() ? "." : dir) + "/" + cmd;
        if (executable_file(full)) return full;
        start = end + 1;
    }
    error = "command " + rules::quote(cmd) + " not found in PATH (" + path_env + ")";
    return std::nullopt;
}

std::string path_of(const Service& s) {
    for (const auto& [k, v] : s.env) {
        if (k == "PATH") return v;
    }
    const char* p = std::getenv("PATH");
    return p ? p : "/usr/local/bin:/usr/bin:/bin";
}

class ServiceReader {
public:
    explicit ServiceReader(Reader& r) : r_(r) {}

    // False when its `ports:` had an error.
    bool service(const Field& item, Service& s) {
        s.loc = sloc(r_.loc(item));
        std::optional<Field> command, ports, bad_ports, user, cwd;
        std::vector<std::pair<Field, ServiceProbe*>> probes;
        r_.each_key(item, kServiceKeys, [&](std::string_view key, const Field& f) {
            if (key == "name") read_name(f, s.name);
            else if (key == "command") command = r_.read_string(f, s.command) ? std::optional(f) : std::nullopt;
            else if (key == "args") strings(f, s.args);
            else if (key == "env") env(f, s.env);
            else if (key == "cwd") cwd = r_.read_string(f, s.cwd) ? std::optional(f) : std::nullopt;
            else if (key == "user") user = r_.read_string(f, s.user) ? std::optional(f) : std::nullopt;
            else if (key == "replicas") r_.read_uint(f, kReplicas, s.replicas);
            else if (key == "ports") (read_ports(f, s.ports) ? ports : bad_ports) = f;
            else if (key == "host") host(f, s.host);
            else if (key == "restart") r_.read_enum(f, kRestart, s.restart);
            else if (key == "liveness" || key == "readiness") probes.emplace_back(f, &(key == "liveness" ? s.liveness : s.readiness).emplace());
            else if (key == "crash_loop") crash_loop(f, s.crash_loop);
            else if (key == "log") log(f, s.log);
            else duration_key(key, f, s);
        });
        if (s.name.empty()) r_.error(item.value, item.path, "missing \"name\"");
        if (!command && s.command.empty()) r_.error(item.value, item.path, "missing \"command\" (the program to run)");
        if (cwd) check_cwd(*cwd, s.cwd);
        if (command) resolve_command(*command, s);
        if (user) lookup_user(*user, s);
        if (ports && s.ports.size() < s.replicas) {
            r_.error(*ports, std::to_string(s.replicas) + " replicas need " + std::to_string(s.replicas) +
                                 " ports, got " + std::to_string(s.ports.size()));
        }
        for (auto& [f, p] : probes) probe(f, *p, s, f.path.ends_with("liveness"));
        orders(item, s);
        templates(item, s);
        return !bad_ports;
    }

private:
    void read_name(const Field& f, std::string& out) {
        if (!r_.read_string(f, out)) return;
        if (!rules::is_object_name(out)) r_.error(f, "invalid name " + rules::quote(out) + " (use 1 to 128 letters, digits and - _ . : [ ])");
    }

    void duration_key(std::string_view key, const Field& f, Service& s) {
        if (key == "restart_delay") r_.read_duration(f, false, s.restart_delay);
        else if (key == "max_restart_delay") r_.read_duration(f, false, s.max_restart_delay);
        else if (key == "reset_after") r_.read_duration(f, false, s.reset_after);
        else if (key == "drain_timeout") r_.read_duration(f, true, s.drain_timeout);
        else if (key == "stop_grace") r_.read_duration(f, true, s.stop_grace);
        else if (key == "ready_timeout") r_.read_duration(f, false, s.ready_timeout);
    }

    // Rules: a list of scalars (numbers are taken as written: "8080").
    void strings(const Field& f, std::vector<std::string>& out) {
        std::vector<std::string> items;
        bool ok = r_.each_item(f, [&](std::size_t, const Field& item) {
            std::string text;
            if (r_.read_string(item, text)) items.push_back(std::move(text));
        });
        if (ok) out = std::move(items);
    }

    // Rules: a mapping NAME: value, NAME a shell variable name.
    void env(const Field& f, std::vector<std::pair<std::string, std::string>>& out) {
        if (!f.value.IsMap()) {
            r_.error(f, "expected a mapping of variable names to values, got " + kind_of(f.value));
            return;
        }
        for (auto it = f.value.begin(); it != f.value.end(); ++it) {
            const std::string name = it->first.Scalar();
            Field at{it->first.Mark(), it->second, child_path(f.path, name)};
            std::string value;
            if (!is_env_name(name)) {
                r_.error(Field{it->first.Mark(), YAML::Node(), at.path},
                         "invalid variable name " + rules::quote(name) + " (letters, digits and _, not starting with a digit)");
            } else if (r_.read_string(at, value)) {
                out.emplace_back(name, std::move(value));
            }
        }
    }

    // Rules: 8080, "8001-8003" (one per replica, in order), or a list of ports; each 1..65535,
    // no port twice.
    bool read_ports(const Field& f, std::vector<std::uint16_t>& out) {
        std::vector<std::uint16_t> ports;
        if (f.value.IsSequence()) {
            r_.each_item(f, [&](std::size_t, const Field& item) {
                std::uint32_t p = 0;
                if (r_.read_uint(item, rules::kPort, p)) ports.push_back(static_cast<std::uint16_t>(p));
            });
        } else {
            const auto text = r_.scalar(f, "a port, a range such as \"8001-8003\", or a list of ports");
            if (!text) return false;
            const auto dash = text->find('-');
            std::uint32_t lo = 0, hi = 0;
            const bool ok = number(text->substr(0, dash), lo) &&
                            (dash == std::string_view::npos ? (hi = lo, true) : number(text->substr(dash + 1), hi));
            if (!ok || lo < 1 || hi > 65535 || lo > hi || hi - lo >= 256) {
                r_.error(f, "expected a port (1 to 65535) or a range \"LOW-HIGH\" of at most 256 ports, got " + kind_of(f.value));
                return false;
            }
            for (std::uint32_t p = lo; p <= hi; ++p) ports.push_back(static_cast<std::uint16_t>(p));
        }
        for (std::size_t i = 0; i < ports.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (ports[i] != ports[j]) continue;
                r_.error(f, "port " + std::to_string(ports[i]) + " is listed twice");
                return false;
            }
        }
        out = std::move(ports);
        return true;
    }

    static bool number(std::string_view t, std::uint32_t& out) {
        if (t.empty() || t.size() > 5 || t.find_first_not_of("0123456789") != std::string_view::npos) return false;
        out = static_cast<std::uint32_t>(std::stoul(std::string(t)));
        return true;
    }

    void host(const Field& f, std::string& out) {
        std::string text;
        if (!r_.read_string(f, text)) return;
        if (!rules::is_ipv4_literal(text) && !rules::is_ipv6_literal(text) && !rules::is_host_name(text)) {
            r_.error(f, "invalid host " + rules::quote(text) + " (an IP address or host name the replicas listen on)");
            return;
        }
        out = std::move(text);
    }

    void check_cwd(const Field& f, const std::string& dir) {
        struct stat st {};
        if (dir.empty() || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            r_.error(f, "working directory " + rules::quote(dir) + " does not exist");
        }
    }

    void resolve_command(const Field& f, Service& s) {
        std::string error;
        if (auto path = find_executable(s.command, s.cwd, path_of(s), error)) {
            s.path = *path;
        } else {
            r_.error(f, error);
        }
    }

    // Rules: the user exists; switching to another user needs haven to run as root.
    void lookup_user(const Field& f, Service& s) {
        passwd pw{};
        passwd* found = nullptr;
        char buf[16384];
        if (::getpwnam_r(s.user.c_str(), &pw, buf, sizeof buf, &found) != 0 || !found) {
            r_.error(f, "no such user " + rules::quote(s.user));
            return;
        }
        s.uid = pw.pw_uid;
        s.gid = pw.pw_gid;
        if (::geteuid() != 0 && s.uid != ::geteuid()) {
            r_.error(f, "running as " + rules::quote(s.user) + " needs haven to run as root");
        }
    }

    void crash_loop(const Field& m, CrashLoop& c) {
        r_.each_key(m, kCrashLoopKeys, [&](std::string_view key, const Field& f) {
            if (key == "restarts") r_.read_uint(f, kCrashRestarts, c.restarts);
            else if (key == "window") r_.read_duration(f, false, c.window);
            else if (key == "delay") r_.read_duration(f, false, c.delay);
        });
    }

    void log(const Field& m, ServiceLog& l) {
        r_.each_key(m, kLogKeys, [&](std::string_view key, const Field& f) {
            if (key == "max_line") r_.read_size(f, kMaxLine, l.max_line);
            else if (key == "lines_per_second") r_.read_uint(f, kLinesPerSecond, l.lines_per_second);
        });
    }

    // Rules: exactly one of http / tcp / exec; timeout <= period; a liveness probe passes once
    // (success_threshold 1, as in Kubernetes); http and tcp need a port (the replica's or their own).
    void probe(const Field& m, ServiceProbe& p, const Service& s, bool liveness) {
        p.loc = sloc(r_.loc(m));
        std::optional<Field> kind, timeout, success;
        bool ok = r_.each_key(m, kProbeKeys, [&](std::string_view key, const Field& f) {
            if (key == "http" || key == "tcp" || key == "exec") {
                if (kind) r_.error(Field{f.key_mark, YAML::Node(), f.path}, "a probe is one of http, tcp or exec, not several");
                kind = f;
                probe_kind(key, f, p, s);
            } else if (key == "port") {
                std::uint32_t port = 0;
                if (r_.read_uint(f, rules::kPort, port)) p.port = static_cast<std::uint16_t>(port);
            } else if (key == "initial_delay") {
                r_.read_duration(f, true, p.initial_delay);
            } else if (key == "period") {
                r_.read_duration(f, false, p.period);
            } else if (key == "timeout") {
                if (r_.read_duration(f, false, p.timeout)) timeout = f;
            } else if (key == "failure_threshold") {
                r_.read_uint(f, kThreshold, p.failure_threshold);
            } else if (key == "success_threshold") {
                if (r_.read_uint(f, kThreshold, p.success_threshold)) success = f;
            }
        });
        if (!ok) return;
        if (!kind) r_.error(m, "needs http:, tcp: or exec: (what to check)");
        if (p.timeout > p.period) {
            r_.error(timeout ? *timeout : m, rules::duration_text(p.timeout) + " must not exceed period (" +
                                                 rules::duration_text(p.period) + ")");
        }
        if (liveness && p.success_threshold != 1 && success) r_.error(*success, "must be 1 for a liveness probe");
        if (kind && p.kind != ServiceProbe::Kind::Exec && p.port == 0 && s.ports.empty()) {
            r_.error(m, "an http or tcp probe needs a port: the service has no ports, so give the probe port:");
        }
    }

    void probe_kind(std::string_view key, const Field& f, ServiceProbe& p, const Service& s) {
        if (key == "exec") {
            p.kind = ServiceProbe::Kind::Exec;
            strings(f, p.command);
            if (p.command.empty()) {
                r_.error(f, "needs a command: a list such as [\"/usr/bin/check\", \"--quick\"]");
                return;
            }
            std::string error;
            if (auto path = find_executable(p.command[0], s.cwd, path_of(s), error)) p.command[0] = *path;
            else r_.error(f, error);
            return;
        }
        if (key == "tcp") {
            p.kind = ServiceProbe::Kind::Tcp;
            if (!f.value.IsNull()) {
                r_.each_key(f, kTcpProbeKeys, [&](std::string_view, const Field& v) {
                    std::uint32_t port = 0;
                    if (r_.read_uint(v, rules::kPort, port)) p.port = static_cast<std::uint16_t>(port);
                });
            }
            return;
        }
        p.kind = ServiceProbe::Kind::Http;
        if (f.value.IsScalar()) return http_path(f, p.path);
        r_.each_key(f, kHttpProbeKeys, [&](std::string_view k, const Field& v) {
            if (k == "path") http_path(v, p.path);
            else if (k == "host") {
                std::string text;
                if (!r_.read_string(v, text)) return;
                if (rules::is_host_header(text)) p.host = std::move(text);
                else r_.error(v, "invalid host " + rules::quote(text) + " (a host name or address, optionally with :PORT)");
            } else if (k == "expect_status") {
                expect_status(v, p.expect_status);
            }
        });
    }

    // Rules: starts with '/', visible ASCII: it becomes the probe's request line.
    void http_path(const Field& f, std::string& out) {
        std::string text;
        if (!r_.read_string(f, text)) return;
        if (!rules::is_path(text)) {
            r_.error(f, "invalid path " + rules::quote(text) + " (must start with '/' and contain no spaces or control characters)");
            return;
        }
        out = std::move(text);
    }

    void expect_status(const Field& f, std::vector<std::pair<int, int>>& out) {
        std::vector<std::pair<int, int>> ranges;
        const auto one = [&](const Field& item) {
            const auto text = r_.scalar(item, "a status (200) or a range (\"200-399\")");
            if (!text) return;
            const auto parsed = rules::parse_status_range(*text);
            if (parsed.problem == rules::StatusProblem::None) ranges.push_back(parsed.range);
            else r_.error(item, "invalid status " + kind_of(item.value) + " (a status from 100 to 599, or a range such as \"200-399\")");
        };
        if (f.value.IsScalar()) one(f);
        else r_.each_item(f, [&](std::size_t, const Field& item) { one(item); });
        if (!ranges.empty()) out = std::move(ranges);
    }

    // Rules: the backoff grows from restart_delay up to max_restart_delay; a crash loop waits
    // longer than a first restart.
    void orders(const Field& item, const Service& s) {
        if (s.max_restart_delay < s.restart_delay) {
            r_.error(item.value, item.path, "max_restart_delay (" + rules::duration_text(s.max_restart_delay) +
                                          ") is less than restart_delay (" + rules::duration_text(s.restart_delay) + ")");
        }
        if (s.crash_loop.delay < s.restart_delay) {
            r_.error(item.value, item.path, "crash_loop.delay (" + rules::duration_text(s.crash_loop.delay) +
                                          ") is less than restart_delay (" + rules::duration_text(s.restart_delay) + ")");
        }
    }

    // Rules: only the placeholders expand_placeholders knows, and {port} only with ports.
    void templates(const Field& item, const Service& s) {
        const ReplicaVars vars = replica_vars(s, 0);
        std::vector<std::pair<std::string, std::string>> texts;
        for (std::size_t i = 0; i < s.args.size(); ++i) texts.emplace_back("args[" + std::to_string(i) + "]", s.args[i]);
        for (const auto& [k, v] : s.env) texts.emplace_back("env." + k, v);
        for (const auto* p : {&s.liveness, &s.readiness}) {
            if (!*p) continue;
            for (const auto& c : (*p)->command) texts.emplace_back(p == &s.liveness ? "liveness.exec" : "readiness.exec", c);
        }
        for (const auto& [where, text] : texts) {
            std::string error;
            if (!expand_placeholders(text, vars, error)) r_.error(item.value, child_path(item.path, where), error);
        }
    }


    Reader& r_;
};

// Rules: a replica's port is not another replica's, nor a listener's (on any address: the
// listener may be on 0.0.0.0).
void check_ports(Reader& reader, const Config& config) {
    std::map<std::uint16_t, std::string> owner;
    for (const auto& l : config.listeners) {
        if (l.listen.port != 0) owner.emplace(l.listen.port, "listener " + rules::quote(l.name));
    }
    for (std::size_t i = 0; i < config.supervisor.services.size(); ++i) {
        const auto& s = config.supervisor.services[i];
        for (std::size_t r = 0; r < s.replicas && r < s.ports.size(); ++r) {
            const auto [it, fresh] = owner.emplace(s.ports[r], "service " + rules::quote(s.name));
            if (fresh) continue;
            reader.error(field_at(s.loc, "services[" + std::to_string(i) + "].ports"),
                         "port " + std::to_string(s.ports[r]) + " of " + s.replica_name(static_cast<std::uint32_t>(r)) +
                             " is already used by " + it->second);
        }
    }
}

} // namespace

std::string_view name_of(RestartMode m) {
    switch (m) {
    case RestartMode::Always: return "always";
    case RestartMode::OnFailure: return "on-failure";
    case RestartMode::Never: return "never";
    }
    return "?";
}

ReplicaVars replica_vars(const Service& service, std::uint32_t index) {
    ReplicaVars v{service.name, service.replica_name(index), service.host, index + 1, std::nullopt};
    if (index < service.ports.size()) v.port = service.ports[index];
    return v;
}

std::optional<std::string> expand_placeholders(std::string_view text, const ReplicaVars& vars, std::string& error) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
            out += c;
            ++i;
            continue;
        }
        if (c != '{') {
            out += c;
            continue;
        }
        const auto close = text.find('}', i);
        const std::string_view name = text.substr(i + 1, close == std::string_view::npos ? 0 : close - i - 1);
        if (name == "port" && vars.port) out += std::to_string(*vars.port);
        else if (name == "replica") out += std::to_string(vars.number);
        else if (name == "name") out += vars.name;
        else if (name == "service") out += vars.service;
        else if (name == "host") out += vars.host;
        else {
            error = name == "port" ? "{port} needs ports: on the service"
                                   : "unknown placeholder in " + rules::quote(text) +
                                         " (use {port}, {replica}, {name}, {service}, {host}; {{ for a brace)";
            return std::nullopt;
        }
        i = close;
    }
    return out;
}

void read_services(Reader& reader, const Field& f, Supervisor& out) {
    std::map<std::string, SupervisorLoc> names;
    reader.each_item(f, [&](std::size_t, const Field& item) {
        Service& s = out.services.emplace_back();
        if (!ServiceReader(reader).service(item, s)) out.unread_ports.push_back(s.name);
        if (s.name.empty()) return;
        const auto [it, fresh] = names.emplace(s.name, s.loc);
        if (!fresh) {
            reader.error(item.value, item.path + ".name", "duplicate service name " + rules::quote(s.name) + " (first at " +
                                                         rules::loc_text({it->second.line, it->second.column}) + ")");
        }
    });
}

void read_servers_from(Reader& reader, const Field& f, Config& config, std::size_t pool_index) {
    ServersFrom from;
    from.pool_index = pool_index;
    from.loc = sloc(reader.loc(f));
    bool written = false;
    const bool ok = reader.each_key(f, kServersFromKeys, [&](std::string_view, const Field& v) {
        written = true;
        if (!reader.read_string(v, from.service)) from.service.clear();
    });
    if (ok && !written) reader.error(f, "needs service: (the name of a service under services:)");
    // Kept when broken too (service empty): see Supervisor::servers_from.
    config.supervisor.servers_from.push_back(std::move(from));
}

void expand_servers_from(Reader& reader, Config& config) {
    check_ports(reader, config);
    for (auto& from : config.supervisor.servers_from) {
        const std::string path = "pools[" + std::to_string(from.pool_index) + "].servers_from";
        if (from.pool_index >= config.pools.size()) continue;
        Pool& pool = config.pools[from.pool_index];
        from.pool = pool.name;
        if (from.service.empty()) continue; // reported where it is written
        const Service* s = config.supervisor.find(from.service);
        if (!s) {
            reader.error(field_at(from.loc, path + ".service"), "unknown service " + rules::quote(from.service));
            continue;
        }
        if (!pool.servers.empty()) {
            reader.error(field_at(from.loc, path), "a pool takes its servers from servers: or from servers_from:, not both");
            continue;
        }
        const auto& unread = config.supervisor.unread_ports;
        if (std::find(unread.begin(), unread.end(), s->name) != unread.end()) continue; // reported at its ports:
        if (s->ports.empty()) {
            reader.error(field_at(from.loc, path + ".service"),
                         "service " + rules::quote(s->name) + " has no ports: a pool needs an address per replica");
            continue;
        }
        for (std::uint32_t r = 0; r < s->replicas && r < s->ports.size(); ++r) {
            Server& server = pool.servers.emplace_back();
            server.name = s->replica_name(r);
            server.address = Endpoint{s->host + ":" + std::to_string(s->ports[r]), s->host, s->ports[r]};
            if (rules::is_ipv6_literal(s->host)) server.address.text = "[" + s->host + "]:" + std::to_string(s->ports[r]);
            // Out of rotation until the supervisor finds the replica ready; a reload keeps the
            // state it set, since this `state` never changes (pool_state.cpp).
            server.state = AdminState::Drain;
            server.loc = {from.loc.line, from.loc.column};
        }
    }
}

} // namespace haven::config
