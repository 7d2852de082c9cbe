// `haven sla TARGET`: the downtime an availability target allows per year, month, week and day
// (the table is admin::sla_table; this file only reads the argument).
#include "admin/slo.hpp"
#include "app/commands.hpp"

#include <charconv>
#include <cstdio>
#include <optional>
#include <string_view>

namespace haven::app {
namespace {

// Rules: a decimal number of percent, optionally followed by '%' ("99.95", "99.95%"), more than 0
// and at most 100; no exponent or hex (as in the config), and no "inf" or "nan".
std::optional<double> parse_target(std::string_view text) {
    if (text.ends_with('%')) text.remove_suffix(1);
    double v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v, std::chars_format::fixed);
    if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
    if (!(v > 0 && v <= 100)) return std::nullopt; // false for NaN too
    return v;
}

} // namespace

int print_sla(const std::string& target) {
    auto percent = parse_target(target);
    if (!percent) {
        std::fprintf(stderr,
                     "haven sla: invalid target \"%s\": expected an availability in percent, more "
                     "than 0 and at most 100 (e.g. 99.95 or 99.95%%)\n",
                     target.c_str());
        return 2;
    }
    std::string table = admin::sla_table(*percent);
    if (!table.empty() && table.back() != '\n') table += '\n';
    std::fputs(table.c_str(), stdout);
    return 0;
}

} // namespace haven::app
