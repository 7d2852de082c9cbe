#include "demo/demo.hpp"

#include "config/yaml_loader.hpp"
#include "proxy/server.hpp"

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

std::string demo_config(const std::string& listen, const std::vector<Child>& children) {
    std::string yaml = fmt::format("listeners:\n  - name: demo\n    listen: {}\n    mode: http\n    pool: demo\n"
                                   "pools:\n  - name: demo\n    balance: roundrobin\n    servers:\n",
                                   listen);
    for (const auto& c : children) yaml += fmt::format("      - {{ name: {}, address: {} }}\n", c.name, c.address);
    yaml += "timeouts: { connect: 1s, server: 10s, drain: 5s }\n";
    return yaml;
}

void print_instructions(const std::string& listen, const std::vector<Child>& children) {
    std::printf("\nhaven demo: proxy on http://%s balancing round-robin over %zu demo backends\n", listen.c_str(),
                children.size());
    for (const auto& c : children) std::printf("  %-10s http://%s\n", c.name.c_str(), c.address.c_str());
    std::printf("\nTry:\n");
    std::printf("  curl http://%s/                      # run it a few times: the backends take turns\n", listen.c_str());
    std::printf("  curl -X POST --data-binary @/etc/hosts http://%s/echo\n", listen.c_str());
    std::printf("  curl 'http://%s/_control?error_rate=1'   # make %s answer 500\n", children.front().address.c_str(),
                children.front().name.c_str());
    std::printf("  curl -s -o /dev/null -w '%%{http_code}\\n' http://%s/bytes?n=10000000\n", listen.c_str());
    std::printf("\nPress Ctrl-C to stop (the backends stop with it).\n\n");
    std::fflush(stdout);
}

} // namespace

int run_demo(const std::string& listen, int backends) {
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
    auto loaded = config::load_string(demo_config(listen, children), "demo");
    if (!loaded.config) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        stop_children(children);
        return 1;
    }
    int rc = 1;
    try {
        proxy::Server server(std::make_shared<const config::Config>(std::move(*loaded.config)));
        print_instructions(listen, children);
        rc = server.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "haven demo: cannot start the proxy: %s\n", e.what());
    }
    stop_children(children);
    return rc;
}

} // namespace haven::demo
