// A health_check mapping of the config as the health checker takes it: its timings and, for an
// http check, the request and what it expects. Shared by pools, DNS regions and anything else
// that checks endpoints with the config's `health_check` keys.
#pragma once

#include "config/schema.hpp"
#include "upstream/health/health_state.hpp"
#include "upstream/health/probe.hpp"

namespace haven::upstream {

HealthParams health_params(const config::HealthCheck& h);
// The http check's request and expectations (no per-server overrides, no TLS).
HttpProbeSpec http_probe_spec(const config::HealthCheck& h);

} // namespace haven::upstream
