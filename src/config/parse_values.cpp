// The scalar syntaxes of the configuration: durations, sizes and host:port endpoints, plus the
// text form of a ConfigError. All parsers are pure and total: any byte string gives a value or a
// reason, never an exception (they run on fuzzer input).
#include "config/value_rules.hpp"
#include "config/yaml_loader.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace haven::config {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Splits "1.5s" into number "1.5" and unit "s" at the first byte that is neither digit nor '.'.
std::pair<std::string_view, std::string_view> split_number(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && (is_digit(text[i]) || text[i] == '.')) ++i;
    return {text.substr(0, i), text.substr(i)};
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!is_digit(c)) return false;
    }
    return true;
}

// Decimal digits to an integer; nullopt on overflow past `limit`.
std::optional<std::uint64_t> to_uint(std::string_view digits, std::uint64_t limit) {
    std::uint64_t v = 0;
    for (char c : digits) {
        auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (limit - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

struct Unit {
    std::string_view name;
    std::uint64_t factor;
};

} // namespace

namespace rules {

// Rules: digits with an optional ".digits" part, then a unit (ms, s, m, h, d); no sign, no
// exponent, no spaces; the result must be a whole number of milliseconds and at most
// kMaxDurationMs. A day is 24 hours (monotonic time has no calendar).
DurationParse parse_duration_detail(std::string_view text) {
    static constexpr std::array<Unit, 5> units{
        {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};
    auto [number, unit_text] = split_number(text);
    const Unit* unit = nullptr;
    for (const auto& u : units) {
        if (unit_text == u.name) unit = &u;
    }
    auto dot = number.find('.');
    std::string_view whole = number.substr(0, dot);
    bool has_frac = dot != std::string_view::npos;
    std::string_view frac = has_frac ? number.substr(dot + 1) : std::string_view{};
    bool frac_ok = !has_frac || all_digits(frac);
    if (unit == nullptr || !all_digits(whole) || !frac_ok) return {{}, Problem::Syntax};
    // Fractions past 9 digits cannot name a whole millisecond unless they are zeros; trim those.
    while (frac.size() > 9 && frac.back() == '0') frac.remove_suffix(1);
    if (frac.size() > 9) return {{}, Problem::SubMillisecond};

    const auto max = static_cast<std::uint64_t>(kMaxDurationMs);
    auto w = to_uint(whole, max);
    if (!w || *w > max / unit->factor) return {{}, Problem::TooLarge};
    std::uint64_t scale = 1;
    for (std::size_t i = 0; i < frac.size(); ++i) scale *= 10;
    std::uint64_t f = frac.empty() ? 0 : *to_uint(frac, ~0ULL);
    // f < scale <= 1e9 and factor <= 8.64e7, so the product fits in 64 bits.
    std::uint64_t frac_units = f * unit->factor;
    if (frac_units % scale != 0) return {{}, Problem::SubMillisecond};
    std::uint64_t ms = *w * unit->factor + frac_units / scale;
    if (ms > max) return {{}, Problem::TooLarge};
    return {Duration{static_cast<std::int64_t>(ms)}, Problem::None};
}

// Rules: digits, then nothing (bytes) or one of KiB MiB GiB (1024^n) or KB MB GB (1000^n);
// case-sensitive so that "mb" (millibits?) is not silently read as megabytes.
SizeParse parse_size_detail(std::string_view text) {
    static constexpr std::array<Unit, 7> units{{{"", 1},
                                                {"KiB", 1ULL << 10},
                                                {"MiB", 1ULL << 20},
                                                {"GiB", 1ULL << 30},
                                                {"KB", 1000},
                                                {"MB", 1000'000},
                                                {"GB", 1000'000'000}}};
    auto [number, unit_text] = split_number(text);
    const Unit* unit = nullptr;
    for (const auto& u : units) {
        if (unit_text == u.name) unit = &u;
    }
    if (unit == nullptr || !all_digits(number)) return {0, Problem::Syntax};
    auto n = to_uint(number, ~0ULL);
    if (!n || *n > ~0ULL / unit->factor) return {0, Problem::TooLarge};
    return {*n * unit->factor, Problem::None};
}

// Rules: digits with an optional ".digits" part, then an optional '%'; no sign, no exponent, no
// spaces. What the number means (percent or fraction) is the caller's rule, per key.
std::optional<PercentParse> parse_percent(std::string_view text) {
    PercentParse out;
    if (text.ends_with('%')) {
        out.percent_sign = true;
        text.remove_suffix(1);
    }
    auto [number, rest] = split_number(text);
    auto dot = number.find('.');
    bool whole_ok = all_digits(number.substr(0, dot));
    bool frac_ok = dot == std::string_view::npos || all_digits(number.substr(dot + 1));
    if (!rest.empty() || !whole_ok || !frac_ok) return std::nullopt;
    const char* end = number.data() + number.size();
    auto [ptr, ec] = std::from_chars(number.data(), end, out.number);
    if (ec != std::errc() || ptr != end || !std::isfinite(out.number)) return std::nullopt;
    out.whole = std::floor(out.number) == out.number;
    return out;
}

// Rules: "NNN" or "NNN-NNN" (decimal digits, no spaces); every status 100..599; low one first.
StatusParse parse_status_range(std::string_view text) {
    auto dash = text.find('-');
    std::string_view lo_text = text.substr(0, dash);
    std::string_view hi_text = dash == std::string_view::npos ? lo_text : text.substr(dash + 1);
    if (!all_digits(lo_text) || !all_digits(hi_text)) return {{}, StatusProblem::Syntax};
    auto lo = to_uint(lo_text, kStatus.max);
    auto hi = to_uint(hi_text, kStatus.max);
    if (!lo || !hi || !kStatus.contains(*lo) || !kStatus.contains(*hi)) {
        return {{}, StatusProblem::OutOfRange};
    }
    if (*lo > *hi) return {{}, StatusProblem::Reversed};
    return {{static_cast<int>(*lo), static_cast<int>(*hi)}, StatusProblem::None};
}

} // namespace rules

std::optional<Duration> parse_duration(std::string_view text) {
    auto r = rules::parse_duration_detail(text);
    if (r.problem != rules::Problem::None) return std::nullopt;
    return r.value;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    auto r = rules::parse_size_detail(text);
    if (r.problem != rules::Problem::None) return std::nullopt;
    return r.value;
}

// Rules: "HOST:PORT" where HOST is an IPv4 literal, a host name, or "[IPv6]"; an unbracketed
// IPv6 address is rejected (its last group would be mistaken for the port); PORT is 0..65535 in
// at most 5 digits. The host is required: write 0.0.0.0 or [::] for "all interfaces".
std::optional<Endpoint> parse_endpoint(std::string_view text) {
    Endpoint ep;
    ep.text = std::string(text);
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return std::nullopt;
        }
        std::string_view host = text.substr(1, close - 1);
        if (!rules::is_ipv6_literal(host)) return std::nullopt;
        ep.host = std::string(host);
        port_text = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        std::string_view host = text.substr(0, colon);
        if (!rules::is_ipv4_literal(host) && !rules::is_host_name(host)) return std::nullopt;
        ep.host = std::string(host);
        port_text = text.substr(colon + 1);
    }
    if (!all_digits(port_text) || port_text.size() > 5) return std::nullopt;
    auto port = to_uint(port_text, 65535);
    if (!port) return std::nullopt;
    ep.port = static_cast<std::uint16_t>(*port);
    return ep;
}

namespace rules {

bool is_host_header(std::string_view text) {
    if (is_host_name(text)) return true; // includes IPv4 literals
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
        return is_ipv6_literal(text.substr(1, text.size() - 2));
    }
    auto ep = parse_endpoint(text);
    return ep.has_value() && ep->port != 0;
}

} // namespace rules

std::string ConfigError::to_string() const {
    if (line <= 0) return file + ": " + message;
    std::string pos = file + ":" + std::to_string(line);
    if (column > 0) pos += ":" + std::to_string(column);
    return pos + ": " + message;
}

} // namespace haven::config
