// `haven sla TARGET`: the downtime an availability target allows per year, month, week and day
// (the table is slo::sla_table; this file only reads the argument).
#include "slo/slo.hpp"
#include "app/commands.hpp"
#include "config/value_rules.hpp"

#include <cstdio>
#include <optional>
#include <string_view>

namespace haven::app {
namespace {

// The config's rule for an availability (`slo.availability`), so that one number means one thing
// everywhere: "99.95%" is percent, a bare number a fraction ("0.9995"); more than 0 and at most
// 100%. Returns percent.
std::optional<double> parse_target(std::string_view text) {
    const auto parsed = config::rules::parse_percent(text);
    if (!parsed) return std::nullopt;
    const double fraction = parsed->percent_sign ? parsed->number / 100 : parsed->number;
    if (!(fraction > 0 && fraction <= 1)) return std::nullopt;
    return fraction * 100;
}

} // namespace

int print_sla(const std::string& target) {
    auto percent = parse_target(target);
    if (!percent) {
        std::fprintf(stderr,
                     "haven sla: invalid target \"%s\": expected a percentage more than 0%% and at most "
                     "100%% (99.95%%), or a fraction more than 0 and at most 1 (0.9995), as in the config\n",
                     target.c_str());
        return 2;
    }
    std::string table = slo::sla_table(*percent);
    if (!table.empty() && table.back() != '\n') table += '\n';
    std::fputs(table.c_str(), stdout);
    return 0;
}

} // namespace haven::app
