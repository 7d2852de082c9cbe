// Full-jitter exponential backoff: the whole delay is random, not just a fraction of it, which
// spreads clients that failed together the most for the same mean wait.
#include "upstream/retry/backoff.hpp"

#include <algorithm>

namespace haven::upstream {
namespace {

// min(max, base × 2^(n-1)) without forming a product that does not fit: the doubling is
// abandoned for `max` as soon as it could reach it, so any retry number is safe.
Duration backoff_cap(std::uint32_t retry_number, Duration base, Duration max) {
    const std::uint32_t shift = retry_number - 1;
    if (shift >= 63 || base.count() > (max.count() >> shift)) return max;
    return std::min(max, Duration(base.count() << shift));
}

} // namespace

Duration retry_backoff(std::uint32_t retry_number, Duration base, Duration max, Random& random) {
    // Rules: retry 0 is the first attempt, which never waits; a zero or negative base or max
    // means no backoff (and keeps the arithmetic below on non-negative numbers).
    if (retry_number == 0) return Duration::zero();
    if (base <= Duration::zero() || max <= Duration::zero()) return Duration::zero();
    const Duration cap = backoff_cap(retry_number, base, max);
    // Inclusive of the cap: below() is half-open, hence + 1 (cap < 2^63, so it cannot wrap).
    const auto draw = random.below(static_cast<std::uint64_t>(cap.count()) + 1);
    return Duration(static_cast<Duration::rep>(draw));
}

} // namespace haven::upstream
