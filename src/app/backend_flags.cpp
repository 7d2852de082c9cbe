// `haven demo-backend` flags.
#include "app/commands.hpp"
#include "demo/backend.hpp"

#include <CLI/CLI.hpp>

namespace haven::app {

void add_backend_flags(CLI::App& cmd, BackendOptions& o) {
    cmd.add_option("--listen", o.listen, "Address to listen on, e.g. 127.0.0.1:9001 (port 0: any free port)")->required();
    cmd.add_option("--name", o.name, "Name reported in responses")->capture_default_str();
    cmd.add_option("--status", o.status, "Status code of GET /")->check(CLI::Range(200, 599))->capture_default_str();
    cmd.add_option("--latency-ms", o.latency_ms, "Delay before every response")->check(CLI::Range(0, 3600000));
    cmd.add_option("--error-rate", o.error_rate, "Fraction of requests answered 500")->check(CLI::Range(0.0, 1.0));
    cmd.add_option("--close-rate", o.close_rate, "Fraction of requests answered by closing the connection")
        ->check(CLI::Range(0.0, 1.0));
    cmd.add_flag("--fail-health", o.fail_health, "GET /health answers 503");
    cmd.add_option("--health-latency-ms", o.health_latency_ms, "Delay before GET /health answers")
        ->check(CLI::Range(0, 3600000));
}

int run_backend(const BackendOptions& o) {
    demo::BackendSettings s;
    s.name = o.name;
    s.status = o.status;
    s.latency_ms = o.latency_ms;
    s.error_rate = o.error_rate;
    s.close_rate = o.close_rate;
    s.fail_health = o.fail_health;
    s.health_latency_ms = o.health_latency_ms;
    return demo::run_backend(o.listen, s);
}

} // namespace haven::app
