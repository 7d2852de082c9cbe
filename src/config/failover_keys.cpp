// Pool and server keys for health checks, outlier detection, failover tiers and retries (see
// failover_keys.hpp). The rules are those of yaml_loader.cpp: a value is checked where it is read
// so that the error points at it, and a bad value is not stored. The two checks between keys of
// one mapping (timeout < interval, base_ejection <= max_ejection) are made here as well, because
// only here is it known which of the two was written and where; validate.cpp repeats them for
// configs built in code.
#include "config/failover_keys.hpp"

#include "config/retry_on.hpp"
#include "config/role_keys.hpp"

#include <cmath>
#include <optional>

namespace haven::config {
namespace {

constexpr std::string_view kHealthCheckKeys[] = {
    "http",          "tcp",  "postgres", "port",   "interval", "timeout", "fast_interval",
    "down_interval", "rise", "fall",     "jitter", "initial", "connect"};
constexpr std::string_view kHttpCheckKeys[] = {"method", "path", "host", "expect_status",
                                               "expect_body"};
constexpr std::string_view kOverrideKeys[] = {"path", "host", "port", "expect_body",
                                              "expect_status"};
constexpr std::string_view kOutlierKeys[] = {"consecutive_failures", "base_ejection",
                                             "max_ejection", "max_ejected_percent"};

constexpr EnumValue kInitial[] = {{"check", static_cast<int>(InitialHealth::Check)},
                                  {"up", static_cast<int>(InitialHealth::Up)},
                                  {"down", static_cast<int>(InitialHealth::Down)}};
constexpr EnumValue kOnAllDown[] = {{"fail", static_cast<int>(OnAllDown::Fail)},
                                    {"try_all", static_cast<int>(OnAllDown::TryAll)}};
constexpr EnumValue kStates[] = {{"ready", static_cast<int>(AdminState::Ready)},
                                 {"drain", static_cast<int>(AdminState::Drain)},
                                 {"maint", static_cast<int>(AdminState::Maint)}};

// A field that reports at its key rather than its value (for "this key should not be here").
Field at_key(const Field& f) { return Field{f.key_mark, YAML::Node(), f.path}; }

// "5s" for a value written in the file, "5s, the default" for one that was not.
std::string shown(Duration d, bool written) {
    return rules::duration_text(d) + (written ? "" : ", the default");
}

class FailoverReader {
public:
    explicit FailoverReader(Reader& reader) : r_(reader) {}

    void pool_key(std::string_view key, const Field& f, Pool& p) {
        // Emplaced even if the mapping has errors: a server's override then does not also
        // report a pool without health_check.
        if (key == "health_check") health_check(f, p.health_check.emplace());
        else if (key == "outlier_detection") outlier(f, p.outlier_detection);
        else if (key == "min_healthy") r_.read_uint(f, rules::kMinHealthy, p.min_healthy);
        else if (key == "all_backups") r_.read_bool(f, p.all_backups);
        else if (key == "on_all_down") r_.read_enum(f, kOnAllDown, p.on_all_down);
        else if (key == "slow_start") r_.read_duration(f, true, p.slow_start);
        else if (!read_pool_role_key(r_, key, f, p)) retry_key(key, f, p);
    }

    void server_key(std::string_view key, const Field& f, Server& s) {
        if (key == "backup") {
            r_.read_bool(f, s.backup);
        } else if (key == "priority") {
            std::uint32_t priority = 0;
            if (r_.read_uint(f, rules::kPriority, priority)) s.priority = priority;
        } else if (key == "state") {
            r_.read_enum(f, kStates, s.state);
        } else if (key == "health_check") {
            check_override(f, s.health_check.emplace());
        } else if (key == "region") {
            s.region_loc = r_.loc(f);
            r_.read_string(f, s.region);
        }
    }

private:
    void retry_key(std::string_view key, const Field& f, Pool& p) {
        if (key == "retries") {
            r_.read_uint(f, rules::kRetries, p.retries);
        } else if (key == "retry_on") {
            retry_on(f, p.retry_on);
        } else if (key == "per_try_timeout") {
            r_.read_duration(f, true, p.per_try_timeout);
        } else if (key == "retry_non_idempotent") {
            r_.read_bool(f, p.retry_non_idempotent);
        } else if (key == "retry_buffer") {
            std::uint32_t bytes = 0;
            if (r_.read_size(f, rules::kRetryBuffer, bytes)) p.retry_buffer = bytes;
        } else if (key == "max_retry_ratio") {
            r_.read_percent(f, PercentForm::Fraction, rules::kMaxRetryRatio, p.max_retry_ratio);
        } else if (key == "min_retries_per_second") {
            r_.read_uint(f, rules::kMinRetriesPerSecond, p.min_retries_per_second);
        } else if (key == "retry_backoff") {
            r_.read_duration(f, false, p.retry_backoff);
        }
    }

    // Rules: exactly one of http / tcp says what a check is; the other keys say when it runs.
    void health_check(const Field& m, HealthCheck& hc) {
        hc.loc = r_.loc(m);
        std::optional<Field> kind, interval, timeout;
        CheckKeysWritten written;
        bool ok = r_.each_key(m, kHealthCheckKeys, [&](std::string_view key, const Field& f) {
            if (key == "http" || key == "tcp" || key == "postgres") {
                check_kind(key, f, kind, hc);
            } else if (key == "connect") {
                bool connect = false;
                if (r_.read_bool(f, connect)) hc.connect = connect;
            } else if (key == "port") {
                read_port(f, hc.port);
            } else if (key == "interval") {
                if (r_.read_duration(f, false, hc.interval)) interval = f;
            } else if (key == "timeout") {
                if (r_.read_duration(f, false, hc.timeout)) timeout = f;
                written.timeout = true;
            } else if (key == "fast_interval") {
                written.fast_interval = r_.read_duration(f, false, hc.fast_interval);
            } else if (key == "down_interval") {
                written.down_interval = r_.read_duration(f, false, hc.down_interval);
            } else if (key == "rise" || key == "fall") {
                r_.read_uint(f, rules::kRiseFall, key == "rise" ? hc.rise : hc.fall);
            } else if (key == "jitter") {
                r_.read_percent(f, PercentForm::Fraction, rules::kMaxJitter, hc.jitter);
            } else if (key == "initial") {
                r_.read_enum(f, kInitial, hc.initial);
            }
        });
        if (!ok) return;
        if (!kind) r_.error(m, "needs http:, tcp: or postgres: (the kind of check to run)");
        derive_check_defaults(hc, written);
        check_timeout(hc, interval, timeout);
    }

    void check_kind(std::string_view key, const Field& f, std::optional<Field>& kind,
                    HealthCheck& hc) {
        if (kind) {
            SourceLoc first{kind->key_mark.line + 1, kind->key_mark.column + 1};
            r_.error(at_key(f), "a check is one of http, tcp or postgres (another is at " +
                                    rules::loc_text(first) + ")");
            return;
        }
        kind = f;
        if (key == "postgres") {
            hc.kind = HealthCheck::Kind::Postgres;
            read_postgres_check(r_, f, hc.postgres);
            return;
        }
        if (key == "tcp") {
            hc.kind = HealthCheck::Kind::Tcp;
            r_.each_key(f, std::span<const std::string_view>{}, [](auto&&...) {});
            return;
        }
        hc.kind = HealthCheck::Kind::Http;
        r_.each_key(f, kHttpCheckKeys, [&](std::string_view k, const Field& v) {
            if (k == "method") read_method(v, hc.method);
            else if (k == "path") read_path(v, hc.path);
            else if (k == "host") read_host(v, hc.host);
            else if (k == "expect_status") read_expect_status(v, hc.expect_status);
            else if (k == "expect_body") read_expect_body(v, hc.expect_body);
        });
    }

    // Rule: a check must end before the next one is due (timeout <= interval; checks of one
    // server never overlap, so the two may be equal). Only a written timeout can break it (an
    // unwritten one follows the interval), so the error is at timeout; neither value is kept.
    void check_timeout(HealthCheck& hc, const std::optional<Field>& interval,
                       const std::optional<Field>& timeout) {
        if (hc.timeout <= hc.interval) return;
        if (timeout) {
            r_.error(*timeout, rules::duration_text(hc.timeout) + " must not exceed interval (" +
                                   shown(hc.interval, interval.has_value()) + ")");
        }
        hc.interval = HealthCheck{}.interval;
        hc.timeout = HealthCheck{}.timeout;
    }

    void check_override(const Field& m, HealthCheckOverride& o) {
        o.loc = r_.loc(m);
        r_.each_key(m, kOverrideKeys, [&](std::string_view key, const Field& f) {
            std::string text;
            if (key == "path") {
                if (read_path(f, text)) o.path = std::move(text);
            } else if (key == "host") {
                if (read_host(f, text)) o.host = std::move(text);
            } else if (key == "expect_body") {
                if (read_expect_body(f, text)) o.expect_body = std::move(text);
            } else if (key == "port") {
                std::uint16_t port = 0;
                if (read_port(f, port)) o.port = port;
            } else if (key == "expect_status") {
                std::vector<std::pair<int, int>> ranges;
                if (read_expect_status(f, ranges)) o.expect_status = std::move(ranges);
            }
        });
    }

    bool read_port(const Field& f, std::uint16_t& out) {
        std::uint32_t port = 0;
        if (!r_.read_uint(f, rules::kPort, port)) return false;
        out = static_cast<std::uint16_t>(port);
        return true;
    }

    bool read_method(const Field& f, std::string& out) {
        std::string text;
        if (!r_.read_string(f, text)) return false;
        if (!rules::is_method(text)) {
            r_.error(f, "invalid method " + rules::quote(text) +
                            " (an uppercase token such as GET or HEAD)");
            return false;
        }
        out = std::move(text);
        return true;
    }

    // Rules: starts with '/', visible ASCII without spaces. It becomes the request target of the
    // probe: a CR or LF would end the request line early and let the rest inject a header.
    bool read_path(const Field& f, std::string& out) {
        std::string text;
        if (!r_.read_string(f, text)) return false;
        if (rules::has_control_char(text)) {
            r_.error(f, "invalid path " + rules::quote(text) +
                            ": control characters (such as CR or LF) would break the probe's "
                            "request line and inject text into the request");
            return false;
        }
        if (!rules::is_path(text)) {
            r_.error(f, "invalid path " + rules::quote(text) +
                            " (must start with '/' and contain no spaces or control characters)");
            return false;
        }
        out = std::move(text);
        return true;
    }

    // Rules: HOST or HOST:PORT as a Host header carries it; no control characters (header
    // injection) and no spaces.
    bool read_host(const Field& f, std::string& out) {
        std::string text;
        if (!r_.read_string(f, text)) return false;
        if (rules::has_control_char(text)) {
            r_.error(f, "invalid host " + rules::quote(text) +
                            ": control characters (such as CR or LF) would inject header lines "
                            "into the probe's request");
            return false;
        }
        if (!rules::is_host_header(text)) {
            r_.error(f, "invalid host " + rules::quote(text) +
                            " (expected a host name, IPv4 address or [IPv6] address, optionally "
                            "followed by :PORT)");
            return false;
        }
        out = std::move(text);
        return true;
    }

    // Rules: any text but control characters (tab allowed). A YAML "|" block ends with a newline
    // that the response body rarely has at that place, so every check would fail.
    bool read_expect_body(const Field& f, std::string& out) {
        std::string text;
        if (!r_.read_string(f, text)) return false;
        if (rules::has_control_char(text, true)) {
            r_.error(f, "must not contain control characters (such as a newline), got " +
                            rules::quote(text) + "; write the text to look for on one line");
            return false;
        }
        out = std::move(text);
        return true;
    }

    // Rules: one status or range, or a non-empty list of them; nothing is stored if one is bad.
    bool read_expect_status(const Field& f, std::vector<std::pair<int, int>>& out) {
        std::vector<std::pair<int, int>> ranges;
        bool ok = true;
        if (f.value.IsScalar()) {
            ok = status_item(f, ranges);
        } else if (!r_.each_item(f, [&](std::size_t, const Field& item) {
                       ok = status_item(item, ranges) && ok;
                   })) {
            return false;
        } else if (ok && ranges.empty()) {
            r_.error(f, "must list at least one status (e.g. [200] or [\"200-399\"])");
            return false;
        }
        if (!ok) return false;
        out = std::move(ranges);
        return true;
    }

    bool status_item(const Field& item, std::vector<std::pair<int, int>>& out) {
        auto text = r_.scalar(item, "a status (200) or a range of statuses (\"200-399\")");
        if (!text) return false;
        auto parsed = rules::parse_status_range(*text);
        std::string shown_text = kind_of(item.value);
        switch (parsed.problem) {
        case rules::StatusProblem::None: out.push_back(parsed.range); return true;
        case rules::StatusProblem::Syntax:
            r_.error(item, "invalid status " + shown_text +
                               " (expected a status such as 200, or a range such as \"200-399\")");
            return false;
        case rules::StatusProblem::OutOfRange:
            r_.error(item, "status " + shown_text + " is out of range (statuses are 100 to 599)");
            return false;
        case rules::StatusProblem::Reversed:
            r_.error(item, "status range " + shown_text +
                               " is reversed (write the lower status first)");
            return false;
        }
        return false;
    }

    // Rules: a list of the names parse_retry_on knows (config/retry_on.hpp). YAML reads 502 as a number, whose
    // text is "502" all the same. A list with an unknown item is not stored.
    void retry_on(const Field& f, std::vector<std::string>& out) {
        std::vector<std::string> items;
        bool ok = true;
        bool list = r_.each_item(f, [&](std::size_t, const Field& item) {
            std::string text;
            if (!r_.read_string(item, text)) {
                ok = false;
            } else if (!parse_retry_on(text)) {
                r_.error(item, "unknown value " + rules::quote(text) + " (expected one of: " +
                                   std::string(kRetryOnNames) + ")");
                ok = false;
            } else {
                items.push_back(std::move(text));
            }
        });
        if (list && ok) out = std::move(items);
    }

    void outlier(const Field& m, OutlierDetection& o) {
        o.loc = r_.loc(m);
        std::optional<Field> base, max;
        bool ok = r_.each_key(m, kOutlierKeys, [&](std::string_view key, const Field& f) {
            if (key == "consecutive_failures") {
                r_.read_uint(f, rules::kConsecutiveFailures, o.consecutive_failures);
            } else if (key == "base_ejection") {
                if (r_.read_duration(f, false, o.base_ejection)) base = f;
            } else if (key == "max_ejection") {
                if (r_.read_duration(f, false, o.max_ejection)) max = f;
            } else if (key == "max_ejected_percent") {
                double fraction = 0;
                if (r_.read_percent(f, PercentForm::Whole, 1.0, fraction)) {
                    o.max_ejected_percent = static_cast<std::uint32_t>(std::lround(fraction * 100));
                }
            }
        });
        if (ok) check_ejection_order(o, base, max);
    }

    // Rule: base_ejection <= max_ejection (ejections grow from the base up to the cap). Reported
    // at max_ejection if it was written, else at base_ejection; neither value is kept.
    void check_ejection_order(OutlierDetection& o, const std::optional<Field>& base,
                              const std::optional<Field>& max) {
        if (o.base_ejection <= o.max_ejection) return;
        if (max) {
            r_.error(*max, rules::duration_text(o.max_ejection) +
                               " is less than base_ejection (" +
                               shown(o.base_ejection, base.has_value()) + ")");
        } else if (base) {
            r_.error(*base, rules::duration_text(o.base_ejection) +
                                " is more than max_ejection (" + shown(o.max_ejection, false) +
                                ")");
        }
        o.base_ejection = OutlierDetection{}.base_ejection;
        o.max_ejection = OutlierDetection{}.max_ejection;
    }


    Reader& r_;
};

} // namespace

void read_pool_failover_key(Reader& reader, std::string_view key, const Field& f, Pool& pool) {
    FailoverReader(reader).pool_key(key, f, pool);
}

void read_server_failover_key(Reader& reader, std::string_view key, const Field& f,
                              Server& server) {
    FailoverReader(reader).server_key(key, f, server);
}

} // namespace haven::config
