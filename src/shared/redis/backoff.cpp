#include "shared/redis/client.hpp"

#include <algorithm>

namespace haven::shared {

Duration redis_backoff(std::uint32_t attempt, const RedisSettings& settings) {
    const Duration floor = std::max(settings.reconnect_min, Duration::zero());
    const Duration cap = std::max(settings.reconnect_max, Duration::zero());
    if (floor >= cap) return cap;
    if (floor == Duration::zero()) return floor; // "retry at once", however many attempts failed
    // Doubling step by step reaches the cap within 64 steps, whatever the attempt count, and
    // never multiplies past it (so never overflows, even with a cap of Duration::max()).
    Duration d = floor;
    for (std::uint32_t i = 0; i < attempt; ++i) {
        if (d >= cap / 2) return cap;
        d *= 2;
    }
    return d;
}

} // namespace haven::shared
