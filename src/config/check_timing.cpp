#include "config/check_timing.hpp"

#include <algorithm>
#include <cmath>

namespace haven::config {
namespace {

// d stretched by the largest jitter, rounded up to the millisecond.
Duration stretched(Duration d, double jitter) {
    const double ms = static_cast<double>(d.count()) * (1.0 + std::max(0.0, jitter));
    return Duration(static_cast<Duration::rep>(std::ceil(ms)));
}

} // namespace

CheckTiming check_timing(const HealthCheck& h) {
    // Rules: the first check after the change comes at most one (jittered) regular interval
    // later — `interval` while up, `down_interval` while down; each further check needed
    // (fall−1 or rise−1 of them) comes at most one jittered fast_interval after the previous
    // result; and every check may take up to `timeout` (a dead server behind a firewall takes
    // all of it; a refused connect takes almost none).
    const auto fall = static_cast<Duration::rep>(std::max<std::uint32_t>(1, h.fall));
    const auto rise = static_cast<Duration::rep>(std::max<std::uint32_t>(1, h.rise));
    CheckTiming t;
    t.detect_down = stretched(h.interval, h.jitter) + (fall - 1) * stretched(h.fast_interval, h.jitter) + fall * h.timeout;
    t.return_up = stretched(h.down_interval, h.jitter) + (rise - 1) * stretched(h.fast_interval, h.jitter) + rise * h.timeout;
    t.return_after_refusal = stretched(std::min(h.fast_interval, h.down_interval), h.jitter) +
                             (rise - 1) * stretched(h.fast_interval, h.jitter) + rise * h.timeout;
    return t;
}

} // namespace haven::config
