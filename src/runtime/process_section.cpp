#include "runtime/process_section.hpp"


#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace haven::runtime {

void ProcessSection::metrics(admin::metrics::Exposition& e) {
    e.counter("haven_config_reloads_total", "Configuration reloads, by result.", {{"result", "success"}},
              static_cast<double>(events_.count("reload")));
    e.counter("haven_config_reloads_total", "Configuration reloads, by result.", {{"result", "failure"}},
              static_cast<double>(events_.count("reload_failed")));
    for (const auto& [kind, n] : events_.counts()) {
        e.counter("haven_events_total", "High-availability decisions, by kind (see the event history).", {{"kind", kind}},
                  static_cast<double>(n));
    }
    admin::metrics::add_process_metrics(e, admin::metrics::read_process_stats());
}

void ProcessSection::summary(nlohmann::json& out) {
    out["config"] = config_()->source;
    out["reloads"] = events_.count("reload");
    out["reloads_refused"] = events_.count("reload_failed");
    out["events"] = events_.last_seq();
}

void ProcessSection::health(std::vector<admin::HealthCheckResult>& out) {
    out.push_back({"config", true,
                   fmt::format("{} loaded; {} reload(s) applied, {} refused", config_()->source, events_.count("reload"),
                               events_.count("reload_failed"))});
}

} // namespace haven::runtime
