#include "demo/demo.hpp"

#include "config/yaml_loader.hpp"
#include "core/random.hpp"
#include "net/address.hpp"
#include "runtime/runtime.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace haven::demo {
namespace {

std::string self_exe() {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("haven");
}

// The kernel's range for outgoing connections' local ports ([32768, 60999] by default).
std::pair<int, int> ephemeral_range() {
    int lo = 32768, hi = 60999;
    if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
        if (std::fscanf(f, "%d %d", &lo, &hi) != 2) lo = 32768, hi = 60999;
        std::fclose(f);
    }
    return {lo, hi};
}

// True when a socket can bind 127.0.0.1:port now (nothing else is bound to it).
bool bindable(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// `count` distinct ports on 127.0.0.1 that nothing is bound to now, outside the ephemeral range:
// a port inside it could be taken by any outgoing connection while a backend is down, and the
// backend restarted on it would then fail to bind. Another process may still take one first; the
// supervisor then restarts that backend.
std::vector<std::uint16_t> free_ports(int count) {
    const auto [lo, hi] = ephemeral_range();
    std::vector<std::pair<int, int>> spans;
    if (lo > 10000) spans.emplace_back(10000, lo - 1);
    if (hi < 65535) spans.emplace_back(hi + 1, 65535);
    if (spans.empty()) spans.emplace_back(1024, 65535);
    auto rng = FastRandom::from_entropy();
    std::vector<std::uint16_t> ports;
    for (int tries = 0; tries < 1000 && ports.size() < static_cast<std::size_t>(count); ++tries) {
        const auto& [first, last] = spans[rng.below(spans.size())];
        const auto span = static_cast<std::uint64_t>(last - first + 1);
        const auto port = static_cast<std::uint16_t>(first + static_cast<int>(rng.below(span)));
        if (std::find(ports.begin(), ports.end(), port) == ports.end() && bindable(port)) ports.push_back(port);
    }
    return ports;
}

// What the demo shows: haven runs the backends itself (a supervised service: a killed one is
// restarted), balances round-robin over the ready ones, checks them every second, retries, and
// serves the admin listener with the dashboard.
std::string demo_config(const std::string& listen, const std::string& exe, const std::vector<std::uint16_t>& ports,
                        const std::string& admin) {
    std::string list;
    for (auto p : ports) list += (list.empty() ? "" : ", ") + std::to_string(p);
    return fmt::format(
        "listeners:\n  - name: demo\n    listen: {}\n    mode: http\n    pool: demo\n"
        "pools:\n  - name: demo\n    balance: roundrobin\n    retries: 2\n"
        "    health_check: {{ http: {{ path: /health }}, interval: 1s, fall: 2, rise: 2 }}\n"
        "    servers_from: {{ service: backend }}\n"
        "services:\n  - name: backend\n    command: \"{}\"\n"
        "    args: [demo-backend, --listen, \"{{host}}:{{port}}\", --name, \"{{name}}\"]\n"
        "    replicas: {}\n    ports: [{}]\n    restart: always\n    restart_delay: 1s\n"
        "    readiness: {{ http: /health, period: 1s, timeout: 500ms, failure_threshold: 2 }}\n"
        "    liveness: {{ http: /health, initial_delay: 2s, period: 2s, timeout: 1s, failure_threshold: 3 }}\n"
        "    stop_grace: 2s\n    drain_timeout: 2s\n"
        "timeouts: {{ connect: 1s, server: 10s, drain: 5s }}\n"
        "admin: {{ listen: \"{}\" }}\n",
        listen, exe, ports.size(), list, admin);
}

void print_instructions(const std::string& listen, const std::vector<std::uint16_t>& ports, const std::string& admin,
                        const std::string& exe) {
    const std::size_t victim = ports.size() > 1 ? 1 : 0;
    const char* haven = exe.c_str();
    std::printf("\nhaven demo: proxy on http://%s balancing round-robin over %zu demo backends that haven runs\n",
                listen.c_str(), ports.size());
    for (std::size_t i = 0; i < ports.size(); ++i) std::printf("  backend-%zu  http://127.0.0.1:%u\n", i + 1, ports[i]);
    std::printf("\n  dashboard   http://%s/\n  metrics     http://%s/metrics\n  events      %s ctl -a %s events\n"
                "  backends    %s ctl -a %s services\n",
                admin.c_str(), admin.c_str(), haven, admin.c_str(), haven, admin.c_str());
    std::printf("\nTry, with the dashboard open:\n");
    std::printf("  curl http://%s/                    # run it a few times: the backends take turns\n", listen.c_str());
    std::printf("  # keep traffic going in a second terminal (200 requests, one every 50 ms):\n");
    std::printf("  for i in $(seq 200); do curl -s -o /dev/null -w '%%{http_code} ' http://%s/; sleep 0.05; done; echo\n",
                listen.c_str());
    std::printf("  pkill -9 -f 'demo-backend --listen 127.0.0.1:%u '   # backend-%zu dies: out of the rotation at once, "
                "every answer stays 200, and haven starts it again after 1 s\n",
                ports[victim], victim + 1);
    std::printf("  %s ctl -a %s events   # what happened and when: refused, replica_exited, replica_ready, ...\n",
                haven, admin.c_str());
    std::printf("  curl 'http://127.0.0.1:%u/_control?health=fail'   # backend-1 fails its checks: out within ~2 s, "
                "then restarted (liveness)\n",
                ports.front());
    std::printf("\nPress Ctrl-C to stop (the backends stop with it).\n\n");
    std::fflush(stdout);
}

} // namespace

int run_demo(const std::string& listen, int backends, const std::string& admin) {
    const std::string exe = self_exe();
    const auto ports = free_ports(backends);
    if (ports.size() != static_cast<std::size_t>(backends)) {
        std::fprintf(stderr, "haven demo: cannot find %d free ports on 127.0.0.1\n", backends);
        return 1;
    }
    auto loaded = config::load_string(demo_config(listen, exe, ports, admin), "demo");
    if (!loaded.config) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        return 1;
    }
    try {
        runtime::Runtime server(std::make_shared<const config::Config>(std::move(*loaded.config)));
        const auto bound = server.admin_listening();
        print_instructions(listen, ports, bound ? net::endpoint_text(*bound) : admin, exe);
        return server.run(); // the backends are haven's children: they stop with it
    } catch (const std::exception& e) {
        std::fprintf(stderr, "haven demo: cannot start the proxy: %s\n", e.what());
    }
    return 1;
}

} // namespace haven::demo
