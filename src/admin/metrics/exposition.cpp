#include "admin/metrics/exposition.hpp"

#include <cassert>
#include <charconv>
#include <cmath>

namespace haven::admin::metrics {
namespace {

bool is_alpha_or_underscore(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Metric names may contain ':' (reserved for recording rules, but valid in the format).
bool valid_metric_name(std::string_view n) {
    if (n.empty() || !(is_alpha_or_underscore(n[0]) || n[0] == ':'))
        return false;
    for (char c : n)
        if (!(is_alpha_or_underscore(c) || is_digit(c) || c == ':'))
            return false;
    return true;
}

bool valid_label_name(std::string_view n) {
    if (n.empty() || !is_alpha_or_underscore(n[0]))
        return false;
    for (char c : n)
        if (!(is_alpha_or_underscore(c) || is_digit(c)))
            return false;
    return true;
}

// Rules (see the header): valid metric name; label names valid and unique (Prometheus rejects a
// series with a repeated label); `le` is the bucket label, so a histogram may not carry its own.
bool valid_series(std::string_view name, const Labels& labels, bool histogram) {
    if (!valid_metric_name(name))
        return false;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (!valid_label_name(labels[i].name) || (histogram && labels[i].name == "le"))
            return false;
        for (std::size_t j = 0; j < i; ++j)
            if (labels[j].name == labels[i].name)
                return false;
    }
    return true;
}

// Rules: one count per bucket plus +Inf; bounds finite (an explicit +Inf would duplicate the
// implicit bucket) and strictly ascending (buckets are cumulative by upper bound).
bool valid_buckets(std::span<const double> bounds, std::span<const std::uint64_t> counts) {
    if (counts.size() != bounds.size() + 1)
        return false;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i])))
            return false;
    }
    return true;
}

// Escapes backslash and newline, plus the double quote inside label values (HELP text may
// contain quotes as they are).
void append_escaped(std::string& out, std::string_view v, bool quote) {
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (quote && c == '"')
            out += "\\\"";
        else
            out += c;
    }
}

void append_value(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    if (v == 0) { // also -0, which would otherwise print as "-0"
        out += '0';
        return;
    }
    char buf[64];
    std::to_chars_result r;
    // Integral values up to 2^64 (every uint64 counter) print all their digits, exactly as the
    // double holds them: no exponent, no ".0". Beyond that digits would only be noise.
    if (std::trunc(v) == v && std::fabs(v) <= 0x1p64)
        r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 0);
    // Otherwise the shortest text that reads back as the same double. Plain decimals where they
    // stay short (0.0005, 1700000000.5 — libstdc++'s shortest %g would print 1.7000000005e+09),
    // an exponent for the very small and very large (1.5e-07).
    else if (std::fabs(v) >= 1e-4 && std::fabs(v) < 1e15)
        r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    else
        r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
    out.append(buf, r.ptr);
}

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Appends `name{l1="v1",...,le="<le>"} ` — everything but the value. `le` empty: no bucket label.
void append_series(std::string& out, std::string_view name, std::string_view suffix, const Labels& labels,
                   std::string_view le) {
    out += name;
    out += suffix;
    if (!labels.empty() || !le.empty()) {
        out += '{';
        for (const Label& l : labels) {
            out += l.name;
            out += "=\"";
            append_escaped(out, l.value, true);
            out += "\",";
        }
        if (!le.empty()) {
            out += "le=\"";
            out += le;
            out += "\",";
        }
        out.back() = '}'; // replaces the last label's trailing comma
    }
    out += ' ';
}

} // namespace

std::string format_value(double v) {
    std::string out;
    append_value(out, v);
    return out;
}

std::string escape_label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    append_escaped(out, v, true);
    return out;
}

Exposition::Family& Exposition::family(std::string_view name, std::string_view help, std::string_view type) {
    if (auto it = index_.find(name); it != index_.end()) {
        Family& f = families_[it->second];
        assert(f.type == type && "metric name already used by a family of another type");
        return f;
    }
    index_.emplace(std::string(name), families_.size());
    return families_.emplace_back(Family{std::string(name), std::string(help), std::string(type), {}});
}

void Exposition::counter(std::string_view name, std::string_view help, const Labels& labels, double value) {
    const bool ok = valid_series(name, labels, false);
    assert(ok && "invalid metric or label name");
    if (!ok)
        return;
    Family& f = family(name, help, "counter");
    if (f.type != "counter")
        return; // type clash (asserted in family()): dropped, see the header
    append_series(f.samples, name, {}, labels, {});
    append_value(f.samples, value);
    f.samples += '\n';
}

void Exposition::gauge(std::string_view name, std::string_view help, const Labels& labels, double value) {
    const bool ok = valid_series(name, labels, false);
    assert(ok && "invalid metric or label name");
    if (!ok)
        return;
    Family& f = family(name, help, "gauge");
    if (f.type != "gauge")
        return; // type clash (asserted in family()): dropped, see the header
    append_series(f.samples, name, {}, labels, {});
    append_value(f.samples, value);
    f.samples += '\n';
}

void Exposition::histogram(std::string_view name, std::string_view help, const Labels& labels,
                           std::span<const double> bounds, std::span<const std::uint64_t> counts, double sum) {
    const bool ok = valid_series(name, labels, true) && valid_buckets(bounds, counts);
    assert(ok && "invalid histogram name, labels, bounds or counts");
    if (!ok)
        return;
    Family& f = family(name, help, "histogram");
    if (f.type != "histogram")
        return; // type clash (asserted in family()): dropped, see the header
    std::string& out = f.samples;
    // Counts stay integers end to end, so buckets beyond 2^53 are still exact.
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += counts[i];
        append_series(out, name, "_bucket", labels, format_value(bounds[i]));
        append_uint(out, cumulative);
        out += '\n';
    }
    cumulative += counts.back();
    append_series(out, name, "_bucket", labels, "+Inf");
    append_uint(out, cumulative);
    out += '\n';
    append_series(out, name, "_sum", labels, {});
    append_value(out, sum);
    out += '\n';
    append_series(out, name, "_count", labels, {});
    append_uint(out, cumulative);
    out += '\n';
}

std::string Exposition::str() const {
    std::size_t size = 0;
    for (const Family& f : families_)
        size += 2 * f.name.size() + f.help.size() + f.type.size() + f.samples.size() + 32;
    std::string out;
    out.reserve(size);
    for (const Family& f : families_) {
        out += "# HELP ";
        out += f.name;
        out += ' ';
        append_escaped(out, f.help, false);
        out += "\n# TYPE ";
        out += f.name;
        out += ' ';
        out += f.type;
        out += '\n';
        out += f.samples;
    }
    return out;
}

} // namespace haven::admin::metrics
