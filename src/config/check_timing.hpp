// How long a pool's health checks take to notice a failure and a return, as formulas of its
// `health_check` keys (docs/failover.md, "Detection and return times"). `haven check` prints
// them per pool; the docs derive them. Pure functions of the config.
#pragma once

#include "config/schema.hpp"

namespace haven::config {

struct CheckTiming {
    // A server that dies just after a passing check is marked down by checks alone within:
    //   interval×(1+jitter) + (fall−1)×fast_interval×(1+jitter) + fall×timeout
    Duration detect_down{0};
    // A server that comes back just after a failing check serves again within:
    //   down_interval×(1+jitter) + (rise−1)×fast_interval×(1+jitter) + rise×timeout
    Duration return_up{0};
    // The same for a server whose checks were refused while it was down (its process was gone:
    // it is checked every fast_interval, health_state.hpp):
    //   min(fast_interval, down_interval)×(1+jitter) + (rise−1)×fast_interval×(1+jitter) + rise×timeout
    Duration return_after_refusal{0};
};

CheckTiming check_timing(const HealthCheck& h);

} // namespace haven::config
