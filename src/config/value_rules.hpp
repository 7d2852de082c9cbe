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

// Durations beyond a year are typos (and would overflow nanosecond clocks if far larger).
inline constexpr std::int64_t kMaxDurationMs = 8760LL * 3600 * 1000;
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

bool is_ipv4_literal(std::string_view text);
bool is_ipv6_literal(std::string_view text);
// Letters, digits, '-' and '.'; labels of 1..63 characters not starting or ending with '-'. A name
// whose last label is all digits must be an IPv4 literal ("1.2.3" would be read as 1.2.0.3).
bool is_host_name(std::string_view text);
// A route's host match: a host name, optionally with a leading "*." wildcard label.
bool is_host_pattern(std::string_view text);
bool is_token(std::string_view text);  // RFC 9110 token: header names, cookie names
bool is_method(std::string_view text); // a token without lowercase letters
// Listener, pool and server names appear in metrics labels, logs and admin URLs: letters, digits
// and "-_.:[]" (the last three so an address can serve as a server's default name).
bool is_object_name(std::string_view text);
// Visible ASCII starting with '/': anything else can never equal a request's path.
bool is_path(std::string_view text);

// The host part normalised for comparing listen addresses: IP literals in canonical form,
// names lower-cased.
std::string canonical_host(std::string_view host);

// `"text"` with control and non-ASCII bytes escaped, truncated for messages.
std::string quote(std::string_view text);
// "12:5", for messages that point at another item.
std::string loc_text(SourceLoc loc);
// The candidate nearest to `word` by edit distance, if near enough to be a likely typo.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates);

} // namespace haven::config::rules
