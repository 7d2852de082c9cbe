// haven's command line: subcommands and their flags. Each subcommand's work lives in its module;
// this file only wires flags to it. Exit codes (docs/cli.md): 0 success, 1 invalid configuration
// or failure to start, 2 usage error.
#include "app/commands.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

int main(int argc, char** argv) {
    // The process log goes to stderr, so that stdout stays free (access_log: stdout, ctl --json).
    spdlog::set_default_logger(spdlog::stderr_color_mt("haven"));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    CLI::App app{"haven — a high-availability traffic manager"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Help for every subcommand");

    haven::app::RunOptions run;
    auto* run_cmd = app.add_subcommand("run", "Run the proxy with a configuration file");
    // No ExistingFile check here: a missing file is a configuration problem (exit 1, reported by
    // the loader as FILE: cannot open), as for `check`, not a usage error.
    run_cmd->add_option("-c,--config", run.config, "Configuration file (YAML)")->required();
    run_cmd->add_option("--log-level", run.log_level, "trace, debug, info, warn, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

    std::string check_config;
    auto* check_cmd = app.add_subcommand("check", "Validate a configuration file and print a summary");
    check_cmd->add_option("-c,--config", check_config, "Configuration file (YAML)")->required();

    haven::app::DemoOptions demo;
    auto* demo_cmd = app.add_subcommand("demo", "Start 3 demo backends and the proxy on 127.0.0.1:8080");
    demo_cmd->add_option("--listen", demo.listen, "Proxy address")->capture_default_str();
    demo_cmd->add_option("--backends", demo.backends, "Number of demo backends (1-16)")
        ->check(CLI::Range(1, 16))->capture_default_str();
    demo_cmd->add_option("--admin", demo.admin, "Admin listener: dashboard, API, metrics")->capture_default_str();

    haven::app::BackendOptions backend;
    auto* backend_cmd = app.add_subcommand("demo-backend", "A small HTTP/1.1 server for demos and tests");
    haven::app::add_backend_flags(*backend_cmd, backend);

    std::string sla_target;
    auto* sla_cmd = app.add_subcommand("sla", "Print the downtime an availability target allows");
    sla_cmd->add_option("target", sla_target, "Availability: a percentage (99.95%) or a fraction (0.9995)")
        ->required();

    haven::app::CtlOptions ctl;
    auto* ctl_cmd = app.add_subcommand("ctl", "Talk to a running haven's admin API (see docs/admin.md)");
    ctl_cmd->add_option("-a,--admin", ctl.admin, "Admin listener host:port (default: from --config, else 127.0.0.1:9000)");
    ctl_cmd->add_option("-c,--config", ctl.config, "Read the admin address and token from this configuration");
    ctl_cmd->add_option("--token-file", ctl.token_file, "File holding the admin bearer token (or set HAVEN_ADMIN_TOKEN)");
    ctl_cmd->add_flag("--json", ctl.json, "Print the API's JSON instead of a table");
    ctl_cmd->add_option("command", ctl.command,
                        "status | pools | pool NAME | drain|enable|maint POOL SERVER | weight POOL SERVER N | "
                        "events [SINCE] | reload | config | slo | ready | health [deep]")
        ->required();

    auto* version_cmd = app.add_subcommand("version", "Print the version");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    }

    if (*run_cmd) return haven::app::run_proxy(run);
    if (*check_cmd) return haven::app::check_config(check_config);
    if (*demo_cmd) return haven::app::run_demo(demo, argv[0]);
    if (*backend_cmd) return haven::app::run_backend(backend);
    if (*sla_cmd) return haven::app::print_sla(sla_target);
    if (*ctl_cmd) return haven::app::run_ctl(ctl);
    if (*version_cmd) {
        std::printf("haven %s\n", HAVEN_VERSION);
        return 0;
    }
    return 2;
}
