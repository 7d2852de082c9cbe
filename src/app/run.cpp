// `haven run` and `haven check`.
#include "app/commands.hpp"
#include "config/yaml_loader.hpp"
#include "proxy/server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace haven::app {
namespace {

std::optional<config::Config> load_or_report(const std::string& path) {
    auto result = config::load_file(path);
    for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return std::move(result.config);
}


} // namespace

int check_config(const std::string& path) {
    auto cfg = load_or_report(path);
    if (!cfg) return 1;
    std::size_t servers = 0;
    for (const auto& p : cfg->pools) servers += p.servers.size();
    std::printf("%s: OK: %zu listener(s), %zu pool(s), %zu server(s)\n", path.c_str(), cfg->listeners.size(),
                cfg->pools.size(), servers);
    for (const auto& l : cfg->listeners) {
        std::printf("  listener %s  %s  %s  %zu route(s)%s%s\n", l.name.c_str(), l.listen.text.c_str(), std::string(config::name_of(l.mode)).c_str(),
                    l.routes.size(), l.pool.empty() ? "" : "  default pool ", l.pool.c_str());
    }
    for (const auto& p : cfg->pools) {
        std::printf("  pool %s  %s", p.name.c_str(), std::string(config::name_of(p.balance)).c_str());
        for (const auto& s : p.servers) std::printf("  %s=%s(w%u)", s.name.c_str(), s.address.text.c_str(), s.weight);
        std::printf("\n");
    }
    return 0;
}

int run_proxy(const RunOptions& o) {
    spdlog::set_level(spdlog::level::from_str(o.log_level));
    auto cfg = load_or_report(o.config);
    if (!cfg) return 1;
    try {
        proxy::Server server(std::make_shared<const config::Config>(std::move(*cfg)));
        return server.run();
    } catch (const std::exception& e) {
        spdlog::error("cannot start: {}", e.what());
        return 1;
    }
}

} // namespace haven::app
