// Character-level rules for names, hosts, paths and tokens, and the small text helpers used in
// error messages. See value_rules.hpp for why these are shared between loader and validator.
#include "config/value_rules.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace haven::config::rules {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 9110 tchar.
bool is_tchar(char c) {
    static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return is_alpha(c) || is_digit(c) || extra.find(c) != std::string_view::npos;
}

bool is_label(std::string_view label) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    return std::all_of(label.begin(), label.end(),
                       [](char c) { return is_alpha(c) || is_digit(c) || c == '-'; });
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters each count 1 ("wbe" is one typo away from "web", not two).
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.size()][b.size()];
}

} // namespace

bool is_ipv4_literal(std::string_view text) {
    if (text.empty() || text.size() > 15) return false;
    std::string s(text);
    in_addr addr{};
    return inet_pton(AF_INET, s.c_str(), &addr) == 1;
}

bool is_ipv6_literal(std::string_view text) {
    if (text.empty() || text.size() > 45) return false;
    std::string s(text);
    in6_addr addr{};
    return inet_pton(AF_INET6, s.c_str(), &addr) == 1;
}

bool is_host_name(std::string_view text) {
    if (text.empty() || text.size() > 253) return false;
    std::string_view rest = text;
    std::string_view last;
    while (true) {
        auto dot = rest.find('.');
        last = rest.substr(0, dot);
        if (!is_label(last)) return false;
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    bool numeric_tail = std::all_of(last.begin(), last.end(), is_digit);
    return !numeric_tail || is_ipv4_literal(text);
}

bool is_host_pattern(std::string_view text) {
    if (text.starts_with("*.")) text.remove_prefix(2);
    return is_host_name(text);
}

bool header_or_cookie(std::string_view text, std::string& kind, std::string& name) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return false;
    const std::string_view k = text.substr(0, colon);
    const std::string_view n = text.substr(colon + 1);
    if ((k != "header" && k != "cookie") || !is_token(n)) return false;
    kind = std::string(k);
    name = std::string(n);
    return true;
}

bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

bool is_method(std::string_view text) {
    return is_token(text) &&
           std::none_of(text.begin(), text.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

bool is_object_name(std::string_view text) {
    static constexpr std::string_view extra = "-_.:[]";
    if (text.empty() || text.size() > kMaxNameLength) return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
        return is_alpha(c) || is_digit(c) || extra.find(c) != std::string_view::npos;
    });
}

bool is_path(std::string_view text) {
    if (text.empty() || text.front() != '/') return false;
    return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool has_control_char(std::string_view text, bool allow_tab) {
    return std::any_of(text.begin(), text.end(), [allow_tab](char c) {
        auto b = static_cast<unsigned char>(c);
        return (b < 0x20 && !(allow_tab && c == '\t')) || b == 0x7f;
    });
}

bool is_status_range(std::pair<int, int> range) {
    auto [lo, hi] = range;
    return lo >= 0 && hi >= 0 && kStatus.contains(static_cast<std::uint64_t>(lo)) &&
           kStatus.contains(static_cast<std::uint64_t>(hi)) && lo <= hi;
}

std::string canonical_host(std::string_view host) {
    std::string s(host);
    char buf[INET6_ADDRSTRLEN] = {};
    in_addr a4{};
    in6_addr a6{};
    if (inet_pton(AF_INET, s.c_str(), &a4) == 1 && inet_ntop(AF_INET, &a4, buf, sizeof buf)) {
        return buf;
    }
    if (inet_pton(AF_INET6, s.c_str(), &a6) == 1 && inet_ntop(AF_INET6, &a6, buf, sizeof buf)) {
        return buf;
    }
    std::transform(s.begin(), s.end(), s.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
    return s;
}

std::string quote(std::string_view text) {
    // Long enough for any sensible value; fuzzed megabyte scalars must not flood the output.
    constexpr std::size_t kMaxShown = 80;
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > kMaxShown) out += "...";
    return out + "\"";
}

std::string loc_text(SourceLoc loc) {
    return std::to_string(loc.line) + ":" + std::to_string(loc.column);
}

std::string duration_text(Duration d) {
    struct Unit {
        const char* name;
        std::int64_t ms;
    };
    static constexpr Unit units[] = {
        {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}};
    std::int64_t ms = d.count();
    for (const auto& u : units) {
        if (ms != 0 && ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name;
    }
    return std::to_string(ms) + "ms";
}

// Rules: at most 2 edits (1 for words of 4 characters or fewer, where 2 edits make almost any
// word "near"); words longer than 64 characters are not typos of a key.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
    if (word.empty() || word.size() > 64) return std::nullopt;
    std::size_t allowed = word.size() <= 4 ? 1 : 2;
    std::optional<std::string_view> best;
    std::size_t best_distance = allowed + 1;
    for (auto candidate : candidates) {
        std::size_t d = edit_distance(word, candidate);
        if (d < best_distance) {
            best_distance = d;
            best = candidate;
        }
    }
    return best;
}

} // namespace haven::config::rules
