#include "upstream/circuit/breaker_config.hpp"

#include "config/retry_on.hpp"

namespace haven::upstream {

BreakerParams breaker_params(const config::CircuitBreakerPolicy& c) {
    BreakerParams p;
    p.consecutive_failures = c.consecutive_failures;
    p.failure_ratio = c.failure_ratio;
    p.min_requests = c.min_requests;
    p.window = std::chrono::duration_cast<Duration>(c.window);
    p.open_for = std::chrono::duration_cast<Duration>(c.timeout);
    p.max_open_for = std::chrono::duration_cast<Duration>(c.max_timeout);
    p.half_open_requests = c.half_open_requests;
    p.close_after = c.close_after;
    return p;
}

std::uint32_t breaker_failure_bits(const config::CircuitBreakerPolicy& c) {
    std::uint32_t bits = 0;
    for (const auto& item : c.failure_on) bits |= config::parse_retry_on(item).value_or(0);
    return bits;
}

} // namespace haven::upstream
