// src/admin: the admin listener — metrics, haven's own health, the JSON API behind `haven ctl`,
// the dashboard, SLOs. metrics/ turns haven's counters into the Prometheus text exposition
// format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Exposition collects samples by family: a family's HELP and TYPE lines are written once and
// all its samples stay together, whatever order they were added in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace haven::admin::metrics {

struct Label {
    std::string name;
    std::string value;
};
using Labels = std::vector<Label>;

// The `code_class` label's values, indexed by status / 100 (0: no status).
inline constexpr const char* kCodeClass[6] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

// Misuse is a programming error (names are constants in haven's code), so it asserts in debug
// builds; in release builds the offending sample is dropped and nothing else, because one
// malformed line makes Prometheus reject the whole scrape. Misuse is: a metric name not matching
// [a-zA-Z_:][a-zA-Z0-9_:]*, a label name not matching [a-zA-Z_][a-zA-Z0-9_]* or repeated, a label
// named `le` on a histogram, histogram bounds not finite and strictly ascending or counts of the
// wrong size, and a name already used by a family of another type. A family keeps the HELP text
// it was first added with. Not checked: a histogram's derived names (NAME_sum, ...) colliding
// with another family's name.
class Exposition {
public:
    // `name` follows Prometheus conventions (counters end in _total, base units: seconds, bytes).
    void counter(std::string_view name, std::string_view help, const Labels& labels, double value);
    void gauge(std::string_view name, std::string_view help, const Labels& labels, double value);
    // `bounds` are the buckets' upper bounds (ascending, without +Inf); `counts` has
    // bounds.size() + 1 entries, NOT cumulative (the last is the +Inf bucket's own count).
    // Writes NAME_bucket{le="..."} cumulatively, NAME_bucket{le="+Inf"}, NAME_sum and NAME_count.
    void histogram(std::string_view name, std::string_view help, const Labels& labels, std::span<const double> bounds,
                   std::span<const std::uint64_t> counts, double sum);

    // The whole text, families in the order they were first added.
    std::string str() const;

private:
    struct Family {
        std::string name;
        std::string help;
        std::string type;
        std::string samples; // sample lines, each ending in '\n' (one buffer: few allocations)
    };
    Family& family(std::string_view name, std::string_view help, std::string_view type);
    std::vector<Family> families_;
    std::map<std::string, std::size_t, std::less<>> index_; // name -> position in families_
};

// Formats a sample value as Prometheus expects: integers without exponent, NaN, +Inf, -Inf.
std::string format_value(double v);
// Escapes a label value (backslash, double quote, newline).
std::string escape_label(std::string_view v);

// The process as the standard process_* metrics describe it (from /proc/self).
struct ProcessStats {
    double cpu_seconds = 0;          // user + system
    std::uint64_t resident_bytes = 0;
    std::uint64_t virtual_bytes = 0;
    std::uint64_t open_fds = 0;
    std::uint64_t max_fds = 0;
    double start_time_seconds = 0;   // since the Unix epoch
    std::uint64_t threads = 0;
};
ProcessStats read_process_stats();
// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds, process_threads.
void add_process_metrics(Exposition& e, const ProcessStats& s);

} // namespace haven::admin::metrics
