// The `services:` haven runs and heals (docs/supervisor.md): plain structs, as in schema.hpp,
// with the defaults in the member initialisers. config::Config holds one `Supervisor`; a pool
// that takes its servers from a service (`servers_from:`) gets one server per replica when the
// file is loaded (supervisor_keys.cpp), named like the replica.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace haven::config {

// What is written where (line and column) travels with the value for messages; it does not take
// part in comparisons, so a reload that only moves lines changes nothing.
struct SupervisorLoc {
    int line = 0;
    int column = 0;
    friend bool operator==(const SupervisorLoc&, const SupervisorLoc&) { return true; }
};

// A liveness or readiness probe. The defaults are Kubernetes' (period 10s, timeout 1s, three
// failures), so the brief's "30s / 10s / 3" reads as initial_delay / period / failure_threshold.
struct ServiceProbe {
    enum class Kind { Http, Tcp, Exec };
    Kind kind = Kind::Tcp;
    std::string path = "/health";                                  // http
    std::string host;                                              // http Host header; empty: host:port
    std::vector<std::pair<int, int>> expect_status = {{200, 399}}; // http, inclusive ranges
    std::uint16_t port = 0;                                        // http/tcp; 0: the replica's port
    std::vector<std::string> command;                              // exec: argv, templated like args
    std::chrono::milliseconds initial_delay{0};
    std::chrono::milliseconds period{10'000};
    std::chrono::milliseconds timeout{1'000};
    std::uint32_t failure_threshold = 3;
    std::uint32_t success_threshold = 1;
    SupervisorLoc loc;
    bool operator==(const ServiceProbe&) const = default;
};

enum class RestartMode { Always, OnFailure, Never };

// N restarts within `window` put a replica in CRASHLOOP: it is then restarted only every `delay`,
// until it stays up for the service's reset_after.
struct CrashLoop {
    std::uint32_t restarts = 5;
    std::chrono::milliseconds window{600'000};
    std::chrono::milliseconds delay{300'000};
    bool operator==(const CrashLoop&) const = default;
};

// How a replica's stdout/stderr reach haven's log: lines cut at max_line bytes, at most
// lines_per_second per replica (the rest is counted and dropped, never waited for).
struct ServiceLog {
    std::uint32_t max_line = 4096;
    std::uint32_t lines_per_second = 200;
    bool operator==(const ServiceLog&) const = default;
};

struct Service {
    std::string name;
    std::string command;           // as written
    std::string path;              // the executable it resolved to when loaded
    std::vector<std::string> args; // {port}, {replica}, {name}, {service}, {host} are replaced
    std::vector<std::pair<std::string, std::string>> env; // values templated like args
    std::string cwd;               // empty: haven's working directory
    std::string user;              // empty: haven's own user
    std::uint32_t uid = 0, gid = 0; // `user` looked up when loaded
    std::uint32_t replicas = 1;
    std::vector<std::uint16_t> ports; // replica i listens on ports[i]; empty: no port
    std::string host = "127.0.0.1";   // where replicas listen: pool addresses and probes
    RestartMode restart = RestartMode::Always;
    std::chrono::milliseconds restart_delay{10'000};       // the brief's RestartSec=10s
    std::chrono::milliseconds max_restart_delay{120'000};  // backoff cap: delay x 2^(n-1)
    std::chrono::milliseconds reset_after{60'000};         // healthy this long: backoff starts over
    CrashLoop crash_loop;
    std::chrono::milliseconds drain_timeout{30'000}; // wait for requests in flight before stopping
    std::chrono::milliseconds stop_grace{10'000};    // SIGTERM, then SIGKILL after this
    // A started replica not ready within this counts as failed to start: a rolling restart halts
    // there, and haven's start-up stops waiting for it.
    std::chrono::milliseconds ready_timeout{60'000};
    std::optional<ServiceProbe> liveness;
    std::optional<ServiceProbe> readiness;
    ServiceLog log;
    SupervisorLoc loc;
    bool operator==(const Service&) const = default;

    // "web-1": replicas are numbered from 1.
    std::string replica_name(std::uint32_t index) const { return name + "-" + std::to_string(index + 1); }
};

// `servers_from: { service: web }` in a pool.
struct ServersFrom {
    std::string pool;
    std::string service;
    std::size_t pool_index = 0; // while loading: the pool's position
    SupervisorLoc loc;
};

struct Supervisor {
    std::vector<Service> services;
    // One per `servers_from:` written, even a broken one (its service is then empty), so that a
    // pool whose servers_from has an error is not also reported as having no servers.
    std::vector<ServersFrom> servers_from;
    // While loading: services whose `ports:` had an error; servers_from does not report them again.
    std::vector<std::string> unread_ports;

    bool feeds_pool(std::size_t pool_index) const {
        for (const auto& f : servers_from) {
            if (f.pool_index == pool_index) return true;
        }
        return false;
    }

    const Service* find(std::string_view name) const {
        for (const auto& s : services) {
            if (s.name == name) return &s;
        }
        return nullptr;
    }
};

std::string_view name_of(RestartMode m);

// What {port}, {replica}, {name}, {service} and {host} stand for in one replica's args, env and
// exec probe ("{{" and "}}" are literal braces).
struct ReplicaVars {
    std::string service;
    std::string name;  // web-2
    std::string host;
    std::uint32_t number = 1; // 2 for web-2
    std::optional<std::uint16_t> port;
};
ReplicaVars replica_vars(const Service& service, std::uint32_t index);
// `text` with the placeholders replaced; nullopt with `error` set for one it does not know (or
// {port} without a port).
std::optional<std::string> expand_placeholders(std::string_view text, const ReplicaVars& vars, std::string& error);

} // namespace haven::config
