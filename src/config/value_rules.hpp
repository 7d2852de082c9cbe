// Internal to src/config: the rules one value must follow on its own. The YAML loader applies
// them where it can point at the value's line and column; validate() re-checks the numeric ranges
// so that a Config built in code (tests, `haven demo`) is held to the same limits. A value the
// loader rejects is never stored, so a loaded config is not reported twice.
#pragma once

#include "config/schema.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace haven::config::rules {

struct Range {
    std::uint64_t min;
    std::uint64_t max;
    bool contains(std::uint64_t v) const { return v >= min && v <= max; }
};

inline constexpr Range kThreads{1, 256};
inline constexpr Range kWeight{0, 256};
inline constexpr Range kMaxIdle{0, 100'000};
inline constexpr Range kMaxHeaderBytes{1024, 1'048'576};
inline constexpr Range kMaxHeaders{1, 1000};
inline constexpr Range kMaxRequestLine{256, 1'048'576}; // and at most max_header_bytes (validate)
inline constexpr Range kMaxConnections{1, 1'000'000};
// Health checks, outlier detection, failover tiers and retries (failover_keys.cpp).
inline constexpr Range kPort{1, 65535};
inline constexpr Range kRiseFall{1, 100};
inline constexpr Range kStatus{100, 599};
inline constexpr Range kConsecutiveFailures{0, 1000};
inline constexpr Range kMaxEjectedPercent{0, 100};
inline constexpr Range kMinHealthy{1, 1000};
inline constexpr Range kPriority{0, 255};
inline constexpr Range kRetries{0, 10};
inline constexpr Range kRetryBuffer{0, 16 * 1024 * 1024};
// Fractions: more jitter than +/-50% makes intervals meaningless; a retry ratio above 1 would let
// retries outnumber requests.
inline constexpr double kMaxJitter = 0.5;
inline constexpr double kMaxRetryRatio = 1.0;
inline constexpr Range kMinRetriesPerSecond{0, 100000};
inline constexpr Range kMinRequests{1, 1'000'000};
inline constexpr Range kHalfOpenRequests{1, 10'000};
inline constexpr Range kBurst{0, 1'000'000'000};
inline constexpr Range kMaxKeys{1, 10'000'000};
inline constexpr Range kFaultStatus{200, 599};
inline constexpr Range kMaxActiveFaults{1, 1'000'000};
inline constexpr Range kFallbackStatus{200, 599};
inline constexpr Range kMaxConcurrent{1, 1'000'000};
inline constexpr Range kMaxQueue{0, 1'000'000};

// Durations beyond a year (8760h, 365d) are typos (and would overflow nanosecond clocks if far
// larger). Each key may narrow this: an SLO window is from 1h to 90d.
inline constexpr std::int64_t kMaxDurationMs = 8760LL * 3600 * 1000;
inline constexpr Duration kMinSloWindow{3600LL * 1000};
inline constexpr Duration kMaxSloWindow{90LL * 24 * 3600 * 1000};
inline constexpr std::size_t kMaxNameLength = 128;

// Why a duration or size was rejected, so the loader can say more than "invalid".
enum class Problem { None, Syntax, TooLarge, SubMillisecond };

struct DurationParse {
    Duration value{0};
    Problem problem = Problem::None;
};
struct SizeParse {
    std::uint64_t value = 0;
    Problem problem = Problem::None;
};
DurationParse parse_duration_detail(std::string_view text);
SizeParse parse_size_detail(std::string_view text);

// "20%", "12.5%" (percent_sign) or a bare "0.2" / "50" (no sign): the number as written.
struct PercentParse {
    double number = 0;
    bool percent_sign = false;
    bool whole = false; // no fractional part
};
std::optional<PercentParse> parse_percent(std::string_view text);

// "200" or "200-399" -> an inclusive range of statuses. Why it failed otherwise.
enum class StatusProblem { None, Syntax, OutOfRange, Reversed };
struct StatusParse {
    std::pair<int, int> range{0, 0};
    StatusProblem problem = StatusProblem::None;
};
StatusParse parse_status_range(std::string_view text);
// The check that an expect_status list from code holds: each range within kStatus, low first.
bool is_status_range(std::pair<int, int> range);

bool is_ipv4_literal(std::string_view text);
bool is_ipv6_literal(std::string_view text);
// Letters, digits, '-' and '.'; labels of 1..63 characters not starting or ending with '-'. A name
// whose last label is all digits must be an IPv4 literal ("1.2.3" would be read as 1.2.0.3).
bool is_host_name(std::string_view text);
// A route's host match: a host name, optionally with a leading "*." wildcard label.
bool is_host_pattern(std::string_view text);
bool is_token(std::string_view text);  // RFC 9110 token: header names, cookie names
// "header:NAME" or "cookie:NAME", NAME a token: `kind` is "header" or "cookie". False otherwise.
bool header_or_cookie(std::string_view text, std::string& kind, std::string& name);
bool is_method(std::string_view text); // a token without lowercase letters
// Listener, pool and server names appear in metrics labels, logs and admin URLs: letters, digits
// and "-_.:[]" (the last three so an address can serve as a server's default name).
bool is_object_name(std::string_view text);
// Visible ASCII starting with '/': anything else can never equal a request's path.
bool is_path(std::string_view text);
// A byte below 0x20 or 0x7f. In a health check's path, host or expected body such a byte (CR,
// LF) could end the probe's request line or header early and inject text of its own.
bool has_control_char(std::string_view text, bool allow_tab = false);
// A Host header value: a host name, IPv4 literal or [IPv6] literal, optionally with ":PORT"
// (1..65535).
bool is_host_header(std::string_view text);

// The host part normalised for comparing listen addresses: IP literals in canonical form,
// names lower-cased.
std::string canonical_host(std::string_view host);

// `"text"` with control and non-ASCII bytes escaped, truncated for messages.
std::string quote(std::string_view text);
// "12:5", for messages that point at another item.
std::string loc_text(SourceLoc loc);
// A duration in the largest unit that divides it: "30d", "5m", "30s", "250ms" (for messages).
std::string duration_text(Duration d);
// The candidate nearest to `word` by edit distance, if near enough to be a likely typo.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates);

} // namespace haven::config::rules
