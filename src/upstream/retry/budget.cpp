// The retry budget's one decision. Counters are plain integers: a budget belongs to one worker.
#include "upstream/retry/budget.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace haven::upstream {
namespace {

// floor(ratio × requests), kept inside uint32: a ratio that is not a positive number (0, negative,
// NaN from a bad reload) grants nothing beyond min_concurrent, and a huge ratio saturates rather
// than wrapping through an out-of-range conversion.
std::uint32_t proportional(double ratio, std::uint32_t requests) {
    if (!(ratio > 0.0)) return 0;
    const double share = std::floor(ratio * static_cast<double>(requests));
    constexpr double kMax = static_cast<double>(std::numeric_limits<std::uint32_t>::max());
    if (share >= kMax) return std::numeric_limits<std::uint32_t>::max();
    return static_cast<std::uint32_t>(share);
}

} // namespace

bool RetryBudget::try_acquire() {
    // min_concurrent keeps retries possible when traffic is light (at 3 requests in flight 20%
    // would round down to none); above it the allowance grows with live traffic.
    const std::uint32_t allowed = std::max(min_, proportional(ratio_, requests_));
    if (retries_ >= allowed) return false;
    ++retries_;
    return true;
}

} // namespace haven::upstream
