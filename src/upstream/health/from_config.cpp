#include "upstream/health/from_config.hpp"

namespace haven::upstream {

HealthParams health_params(const config::HealthCheck& h) {
    HealthParams p;
    p.interval = std::chrono::duration_cast<Duration>(h.interval);
    p.fast_interval = std::chrono::duration_cast<Duration>(h.fast_interval);
    p.down_interval = std::chrono::duration_cast<Duration>(h.down_interval);
    p.timeout = std::chrono::duration_cast<Duration>(h.timeout);
    p.rise = h.rise;
    p.fall = h.fall;
    p.jitter = h.jitter;
    return p;
}

HttpProbeSpec http_probe_spec(const config::HealthCheck& h) {
    HttpProbeSpec spec;
    spec.method = h.method;
    spec.path = h.path;
    spec.host = h.host;
    spec.expect_body = h.expect_body;
    spec.expect_status.clear();
    for (const auto& [lo, hi] : h.expect_status) spec.expect_status.push_back({lo, hi});
    return spec;
}

} // namespace haven::upstream
