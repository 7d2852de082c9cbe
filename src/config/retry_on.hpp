// The failure classes a pool's `retry_on` names, as bits, and their spellings. Plain config
// data: the loader and validate() check the spellings here; the retry stage
// (upstream/retry/policy.hpp) consumes the bits.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace haven::config {

enum RetryOn : std::uint32_t {
    RetryOnConnectFailure = 1u << 0, // connect refused, failed or timed out: nothing was sent
    RetryOnReset = 1u << 1,          // connection closed/reset before a complete response head
    RetryOnTimeout = 1u << 2,        // no response within per_try_timeout / timeouts.server
    RetryOn500 = 1u << 3,
    RetryOn502 = 1u << 4,
    RetryOn503 = 1u << 5,
    RetryOn504 = 1u << 6,
    RetryOn5xx = 1u << 7, // any 5xx
};

// The spellings parse_retry_on accepts, for error messages.
inline constexpr std::string_view kRetryOnNames = "connect-failure, reset, timeout, 500, 502, 503, 504, 5xx";

// One retry_on item ("connect-failure", "reset", "timeout", "500", "502", "503", "504", "5xx").
// Exact, lowercase spellings only: a typo must fail validation, not silently disable a class.
std::optional<std::uint32_t> parse_retry_on(std::string_view item);

} // namespace haven::config
