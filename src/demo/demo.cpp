#include "demo/demo.hpp"

#include "config/yaml_loader.hpp"
#include "net/address.hpp"
#include "runtime/runtime.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

namespace haven::demo {
namespace {

struct Child {
    pid_t pid = -1;
    std::string name;
    std::string address;
};

std::string self_exe() {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("haven");
}

// Reads the backend's "... listening on ADDR:PORT" line, waiting at most 5 s.
std::string read_address(int fd) {
    std::string line;
    char c;
    while (line.size() < 256) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) break;
        if (::read(fd, &c, 1) != 1 || c == '\n') break;
        line.push_back(c);
    }
    const auto at = line.rfind(' ');
    return line.find("listening on") == std::string::npos || at == std::string::npos ? std::string() : line.substr(at + 1);
}

Child spawn_backend(const std::string& exe, const std::string& name) {
    Child c;
    c.name = name;
    int fds[2];
    if (::pipe(fds) != 0) return c;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the demo
        ::dup2(fds[1], STDOUT_FILENO);
        ::close(fds[0]);
        ::close(fds[1]);
        ::execl(exe.c_str(), exe.c_str(), "demo-backend", "--listen", "127.0.0.1:0", "--name", name.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(fds[1]);
    c.pid = pid;
    if (pid > 0) c.address = read_address(fds[0]);
    ::close(fds[0]);
    return c;
}

void stop_children(std::vector<Child>& children) {
    for (auto& c : children) {
        if (c.pid > 0) ::kill(c.pid, SIGTERM);
    }
    for (auto& c : children) {
        if (c.pid > 0) ::waitpid(c.pid, nullptr, 0);
        c.pid = -1;
    }
}

// What the demo shows: round-robin over the backends, checks every second (a dead or failing
// backend is out within a second or two, and back as soon after it recovers), retries, and the
// admin listener with the dashboard.
std::string demo_config(const std::string& listen, const std::vector<Child>& children, const std::string& admin) {
    std::string yaml = fmt::format("listeners:\n  - name: demo\n    listen: {}\n    mode: http\n    pool: demo\n"
                                   "pools:\n  - name: demo\n    balance: roundrobin\n    retries: 2\n"
                                   "    health_check: {{ http: {{ path: /health }}, interval: 1s, fall: 2, rise: 2 }}\n"
                                   "    servers:\n",
                                   listen);
    for (const auto& c : children) yaml += fmt::format("      - {{ name: {}, address: {} }}\n", c.name, c.address);
    yaml += "timeouts: { connect: 1s, server: 10s, drain: 5s }\n";
    yaml += fmt::format("admin: {{ listen: \"{}\" }}\n", admin);
    return yaml;
}

void print_instructions(const std::string& listen, const std::vector<Child>& children, const std::string& admin,
                        const std::string& exe) {
    const Child& victim = children.size() > 1 ? children[1] : children.front();
    const char* haven = exe.c_str();
    std::printf("\nhaven demo: proxy on http://%s balancing round-robin over %zu demo backends\n", listen.c_str(),
                children.size());
    for (const auto& c : children) std::printf("  %-10s http://%s  (pid %d)\n", c.name.c_str(), c.address.c_str(), c.pid);
    std::printf("\n  dashboard   http://%s/\n  metrics     http://%s/metrics\n  events      %s ctl -a %s events\n",
                admin.c_str(), admin.c_str(), haven, admin.c_str());
    std::printf("\nTry, with the dashboard open:\n");
    std::printf("  curl http://%s/                    # run it a few times: the backends take turns\n", listen.c_str());
    std::printf("  # keep traffic going in a second terminal (200 requests, one every 50 ms):\n");
    std::printf("  for i in $(seq 200); do curl -s -o /dev/null -w '%%{http_code} ' http://%s/; sleep 0.05; done; echo\n",
                listen.c_str());
    std::printf("  kill -9 %d                     # %s dies: it leaves the rotation at once, every answer stays 200\n",
                victim.pid, victim.name.c_str());
    std::printf("  %s ctl -a %s events   # what happened and when: refused, server_down, ...\n", haven,
                admin.c_str());
    std::printf("  %s demo-backend --listen %s --name %s &   # bring it back: it serves again within ~2 s\n", haven,
                victim.address.c_str(), victim.name.c_str());
    std::printf("  curl 'http://%s/_control?health=fail'   # %s fails its health check: out within ~2 s\n",
                children.front().address.c_str(), children.front().name.c_str());
    std::printf("  curl 'http://%s/_control?health=ok'     # and back\n", children.front().address.c_str());
    std::printf("\nPress Ctrl-C to stop (the backends stop with it).\n\n");
    std::fflush(stdout);
}

} // namespace

int run_demo(const std::string& listen, int backends, const std::string& admin) {
    // Children die with the demo even if it is killed before its signal handler is installed
    // (PR_SET_PDEATHSIG in spawn_backend).
    const std::string exe = self_exe();
    std::vector<Child> children;
    for (int i = 1; i <= backends; ++i) {
        children.push_back(spawn_backend(exe, fmt::format("backend{}", i)));
        if (children.back().address.empty()) {
            std::fprintf(stderr, "haven demo: backend%d did not start\n", i);
            stop_children(children);
            return 1;
        }
    }
    auto loaded = config::load_string(demo_config(listen, children, admin), "demo");
    if (!loaded.config) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        stop_children(children);
        return 1;
    }
    int rc = 1;
    try {
        runtime::Runtime server(std::make_shared<const config::Config>(std::move(*loaded.config)));
        const auto bound = server.admin_listening();
        print_instructions(listen, children, bound ? net::endpoint_text(*bound) : admin, exe);
        rc = server.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "haven demo: cannot start the proxy: %s\n", e.what());
    }
    stop_children(children);
    return rc;
}

} // namespace haven::demo
