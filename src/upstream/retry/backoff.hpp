// Delay before retry number n (1-based): "full jitter" exponential backoff — uniform in
// [0, min(max, base × 2^(n-1))] — so that clients retrying at once spread out.
#pragma once

#include "core/clock.hpp"
#include "core/random.hpp"

namespace haven::upstream {

Duration retry_backoff(std::uint32_t retry_number, Duration base, Duration max, Random& random);

} // namespace haven::upstream
