// The `services:` and `servers_from:` keys (src/config/supervisor_keys.cpp): values as written
// (the brief's 30s / 10s / 3 among them), defaults, servers made from replicas, placeholders, and
// broken configs, each error at its file:line:col with its key.
#include "config/yaml_loader.hpp"

#include "support/config_helpers.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace haven::config {
namespace {

using test::offline;
using test::all_errors;

using namespace std::chrono_literals;

constexpr const char* kListener = "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n";
constexpr const char* kPool = "pools:\n  - name: web\n    servers_from: { service: app }\n";

LoadResult load(const std::string& services, const std::string& pools = kPool) {
    return load_string(std::string(kListener) + pools + services, "sup.yaml", offline());
}

// "sup.yaml:LINE:COL: message" of the first error, or "" when it loaded.
std::string first_error(const std::string& services, const std::string& pools = kPool) {
    auto r = load(services, pools);
    return r.errors.empty() ? "" : r.errors.front().to_string();
}

constexpr const char* kApp = "services:\n"
                             "  - name: app\n"
                             "    command: /bin/sh\n"
                             "    args: [\"-c\", \"exec server --port {port} --id {replica}\"]\n"
                             "    env: { NAME: \"{name}\", LISTEN: \"{host}:{port}\" }\n"
                             "    replicas: 3\n"
                             "    ports: 8001-8003\n";

TEST(ServiceKeys, AServiceLoadsWithItsDefaults) {
    auto r = load(kApp);
    ASSERT_TRUE(r.config) << all_errors(r);
    const auto& s = r.config->supervisor.services.at(0);
    EXPECT_EQ(s.name, "app");
    EXPECT_EQ(s.path, "/bin/sh");
    EXPECT_EQ(s.ports, (std::vector<std::uint16_t>{8001, 8002, 8003}));
    EXPECT_EQ(s.restart, RestartMode::Always);
    EXPECT_EQ(s.restart_delay, 10s); // the brief's RestartSec
    EXPECT_EQ(s.stop_grace, 10s);
    EXPECT_FALSE(s.liveness);
    EXPECT_FALSE(s.readiness);
}

TEST(ServiceKeys, APoolTakesOneServerPerReplicaStartingDrained) {
    auto r = load(kApp);
    ASSERT_TRUE(r.config) << all_errors(r);
    const auto& servers = r.config->pools.at(0).servers;
    ASSERT_EQ(servers.size(), 3u);
    EXPECT_EQ(servers[1].name, "app-2");
    EXPECT_EQ(servers[1].address.text, "127.0.0.1:8002");
    EXPECT_EQ(servers[1].state, AdminState::Drain);
    EXPECT_EQ(r.config->supervisor.servers_from.at(0).pool, "web");
}

TEST(ServiceKeys, TheBriefsProbeValuesAreWrittenAsTheyAre) {
    auto r = load(std::string(kApp) +
                  "    liveness: { http: /health, initial_delay: 30s, period: 10s, failure_threshold: 3 }\n"
                  "    readiness: { http: { path: /ready, expect_status: [200] }, initial_delay: 5s, period: 5s }\n"
                  "    restart: on-failure\n"
                  "    restart_delay: 10s\n"
                  "    max_restart_delay: 5m\n"
                  "    crash_loop: { restarts: 4, window: 2m, delay: 10m }\n");
    ASSERT_TRUE(r.config) << all_errors(r);
    const auto& s = r.config->supervisor.services.at(0);
    ASSERT_TRUE(s.liveness && s.readiness);
    EXPECT_EQ(s.liveness->kind, ServiceProbe::Kind::Http);
    EXPECT_EQ(s.liveness->path, "/health");
    EXPECT_EQ(s.liveness->initial_delay, 30s);
    EXPECT_EQ(s.liveness->period, 10s);
    EXPECT_EQ(s.liveness->failure_threshold, 3u);
    EXPECT_EQ(s.readiness->path, "/ready");
    EXPECT_EQ(s.readiness->period, 5s);
    EXPECT_EQ(s.restart, RestartMode::OnFailure);
    EXPECT_EQ(s.max_restart_delay, 5min);
    EXPECT_EQ(s.crash_loop.restarts, 4u);
    EXPECT_EQ(s.crash_loop.delay, 10min);
}

TEST(ServiceKeys, PlaceholdersExpandPerReplica) {
    auto r = load(kApp);
    ASSERT_TRUE(r.config) << all_errors(r);
    const auto& s = r.config->supervisor.services.at(0);
    const auto vars = replica_vars(s, 1);
    std::string error;
    EXPECT_EQ(expand_placeholders(s.args[1], vars, error), "exec server --port 8002 --id 2");
    EXPECT_EQ(expand_placeholders("{host}:{port} {{literal}}", vars, error), "127.0.0.1:8002 {literal}");
    EXPECT_FALSE(expand_placeholders("{nope}", vars, error));
    EXPECT_NE(error.find("unknown placeholder"), std::string::npos);
}

TEST(ServiceKeys, ExecProbesFindTheirCommandInPath) {
    auto r = load(std::string(kApp) + "    liveness: { exec: [sh, -c, \"test -e /\"], timeout: 2s, period: 5s }\n");
    ASSERT_TRUE(r.config) << all_errors(r);
    const auto& p = *r.config->supervisor.services.at(0).liveness;
    EXPECT_EQ(p.kind, ServiceProbe::Kind::Exec);
    EXPECT_TRUE(p.command.at(0).ends_with("/sh"));
}

struct Bad {
    const char* name;
    std::string services;
    std::string expected; // the start of the first error
    std::string pools = kPool;
};

class BadServices : public ::testing::TestWithParam<Bad> {};

TEST_P(BadServices, ErrorNamesPositionAndKey) {
    const auto& b = GetParam();
    const auto error = first_error(b.services, b.pools);
    EXPECT_EQ(error.substr(0, b.expected.size()), b.expected) << error;
}

// A command that names a file without execute permission (made here: what is executable under
// /etc differs between machines).
TEST(ServiceKeys, ACommandThatIsNotExecutableIsRefusedWhereItIsWritten) {
    const auto path = std::filesystem::temp_directory_path() / ("haven_sup_not_exec_" + std::to_string(::getpid()));
    { std::ofstream(path) << "not a program\n"; }
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const auto error = first_error("services:\n  - name: app\n    command: " + path.string() + "\n    ports: 8001\n");
    std::filesystem::remove(path);
    EXPECT_EQ(error, "sup.yaml:7:14: services[0].command: command \"" + path.string() + "\" is not an executable file") << error;
}

// Line 1 is the listener, 2-4 the pool, 5 "services:", 6 "- name: app", 7 the command, 8 and on
// what each case adds.
// (Cases that pass kOneLinePool instead have the service's lines two earlier: 3 "services:", 4
// "- name: app", 5 the command, 6 and on.)
const std::string kHead = "services:\n  - name: app\n    command: /bin/sh\n";
const std::string kOneLinePool = "pools: [ { name: web, servers: [ { address: 127.0.0.1:1 } ] } ]\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, BadServices,
    ::testing::Values(
        Bad{"missing_command", "services:\n  - name: app\n    ports: 8001\n",
            "sup.yaml:6:5: services[0]: missing \"command\""},
        Bad{"no_such_command", "services:\n  - name: app\n    command: no-such-program-anywhere\n    ports: 8001\n",
            "sup.yaml:7:14: services[0].command: command \"no-such-program-anywhere\" not found in PATH"},
        Bad{"bad_restart", kHead + "    ports: 8001\n    restart: sometimes\n",
            "sup.yaml:9:14: services[0].restart: unknown value \"sometimes\""},
        Bad{"too_few_ports", kHead + "    replicas: 3\n    ports: 8001-8002\n",
            "sup.yaml:9:12: services[0].ports: 3 replicas need 3 ports, got 2"},
        Bad{"reversed_range", kHead + "    ports: 8003-8001\n", "sup.yaml:8:12: services[0].ports: expected a port"},
        Bad{"probe_without_kind", kHead + "    ports: 8001\n    liveness: { period: 10s }\n",
            "sup.yaml:9:15: services[0].liveness: needs http:, tcp: or exec:"},
        Bad{"two_kinds", kHead + "    ports: 8001\n    liveness: { http: /h, tcp: {} }\n",
            "sup.yaml:9:27: services[0].liveness.tcp: a probe is one of http, tcp or exec"},
        Bad{"timeout_over_period", kHead + "    ports: 8001\n    readiness: { tcp: {}, period: 1s, timeout: 2s }\n",
            "sup.yaml:9:48: services[0].readiness.timeout: 2s must not exceed period (1s)"},
        Bad{"liveness_success_threshold", kHead + "    ports: 8001\n    liveness: { tcp: {}, success_threshold: 2 }\n",
            "sup.yaml:9:45: services[0].liveness.success_threshold: must be 1 for a liveness probe"},
        Bad{"http_probe_without_port", kHead + "    readiness: { http: /ready }\n",
            "sup.yaml:6:16: services[0].readiness: an http or tcp probe needs a port", kOneLinePool},
        Bad{"unknown_placeholder", kHead + "    ports: 8001\n    args: [\"--port={prot}\"]\n",
            "sup.yaml:6:5: services[0].args[0]: unknown placeholder in \"--port={prot}\""},
        Bad{"port_placeholder_without_ports", kHead + "    args: [\"{port}\"]\n",
            "sup.yaml:4:5: services[0].args[0]: {port} needs ports: on the service", kOneLinePool},
        Bad{"bad_env_name", kHead + "    ports: 8001\n    env: { 1BAD: x }\n",
            "sup.yaml:9:12: services[0].env.1BAD: invalid variable name \"1BAD\""},
        Bad{"no_such_user", kHead + "    ports: 8001\n    user: no-such-user-here\n",
            "sup.yaml:9:11: services[0].user: no such user \"no-such-user-here\""},
        Bad{"no_such_cwd", kHead + "    ports: 8001\n    cwd: /no/such/dir\n",
            "sup.yaml:9:10: services[0].cwd: working directory \"/no/such/dir\" does not exist"},
        Bad{"max_below_delay", kHead + "    ports: 8001\n    restart_delay: 10s\n    max_restart_delay: 5s\n",
            "sup.yaml:6:5: services[0]: max_restart_delay (5s) is less than restart_delay (10s)"},
        Bad{"duplicate_service", kHead + "    ports: 8001\n  - name: app\n    command: /bin/sh\n    ports: 8002\n",
            "sup.yaml:9:5: services[1].name: duplicate service name \"app\" (first at 6:5)"},
        Bad{"unknown_service", kHead + "    ports: 8001\n", "sup.yaml:4:19: pools[0].servers_from.service: unknown service \"api\"",
            "pools:\n  - name: web\n    servers_from: { service: api }\n"},
        Bad{"servers_and_servers_from", kHead + "    ports: 8001\n",
            "sup.yaml:4:19: pools[0].servers_from: a pool takes its servers from servers: or from servers_from:, not both",
            "pools:\n  - name: web\n    servers_from: { service: app }\n    servers: [ { address: 127.0.0.1:1 } ]\n"},
        Bad{"servers_from_without_service", kHead + "    ports: 8001\n",
            "sup.yaml:4:19: pools[0].servers_from: needs service:", "pools:\n  - name: web\n    servers_from: {}\n"},
        Bad{"service_without_ports", kHead, "sup.yaml:4:19: pools[0].servers_from.service: service \"app\" has no ports"},
        Bad{"port_clash", kHead + "    ports: 8080\n", "sup.yaml:6:5: services[0].ports: port 8080 of app-1 is already used by listener \"web\""},
        Bad{"unknown_key", kHead + "    ports: 8001\n    restart_sec: 10s\n",
            "sup.yaml:9:5: services[0]: unknown key \"restart_sec\""}),
    [](const auto& info) { return std::string(info.param.name); });

} // namespace
} // namespace haven::config
