// The subcommands behind haven's CLI (main.cpp wires the flags).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace haven::app {

struct RunOptions {
    std::string config;
    std::string log_level = "info";
};
int run_proxy(const RunOptions& o);
int check_config(const std::string& path);

struct DemoOptions {
    std::string listen = "127.0.0.1:8080";
    int backends = 3;
    std::string admin = "127.0.0.1:9000";
};
int run_demo(const DemoOptions& o, const char* self);

struct BackendOptions {
    std::string listen;
    std::string name = "backend";
    int status = 200;        // status of GET /
    int latency_ms = 0;      // added before every response
    double error_rate = 0;   // fraction of responses that are 500
    double close_rate = 0;   // fraction of requests answered by closing the connection
    bool fail_health = false;
    int health_latency_ms = 0; // delay before GET /health answers
};
void add_backend_flags(CLI::App& cmd, BackendOptions& o);
int run_backend(const BackendOptions& o);

struct CtlOptions {
    std::string admin;       // host:port
    std::string config;      // read admin.listen (and the token) from this config instead
    std::string token_file;
    bool json = false;
    std::vector<std::string> command;
};
int run_ctl(const CtlOptions& o);

// `haven sla 99.95`: prints the allowed downtime table; 2 if the target is not a percentage in
// (0, 100].
int print_sla(const std::string& target);

} // namespace haven::app
