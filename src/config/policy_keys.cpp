// The `policies` keys of listeners and routes, and a pool's `circuit_breaker` (see
// policy_keys.hpp). As in yaml_loader.cpp, a value is checked where it is read, so the error
// points at it, and a bad value is not stored.
#include "config/policy_keys.hpp"

#include "config/jwt_keys.hpp"
#include "config/retry_on.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace haven::config {
namespace {

constexpr std::string_view kPolicyKeys[] = {"jwt", "rate_limit", "bulkhead", "circuit_breaker", "fault", "fallback"};
constexpr std::string_view kBulkheadKeys[] = {"max_concurrent", "max_queue", "queue_timeout"};
constexpr std::string_view kRateLimitKeys[] = {"limits", "key", "burst", "delay", "max_keys", "trusted_proxies", "shared"};
constexpr std::string_view kBreakerKeys[] = {"consecutive_failures", "failure_ratio", "min_requests", "window",
                                             "timeout", "max_timeout", "half_open_requests", "close_after",
                                             "failure_on", "slow_call"};
constexpr std::string_view kFaultKeys[] = {"abort", "delay", "header_faults", "max_active"};
constexpr std::string_view kAbortKeys[] = {"percent", "status"};
constexpr std::string_view kDelayKeys[] = {"percent", "duration"};
constexpr std::string_view kFallbackKeys[] = {"pool", "status", "headers", "body", "body_file", "content_type",
                                              "stale_if_error", "degraded_header"};
constexpr std::string_view kStaleKeys[] = {"max_bytes", "max_object", "max_stale"};
constexpr rules::Range kStaleBytes{1024, 1u << 30};

constexpr std::uint64_t kMaxFallbackBody = 1 << 20;

// "10.0.0.0/8", "127.0.0.1", "::1/128": an address, optionally with a prefix length it allows.
bool is_cidr(std::string_view text) {
    const auto slash = text.find('/');
    const std::string addr(text.substr(0, slash));
    const bool v4 = rules::is_ipv4_literal(addr);
    if (!v4 && !rules::is_ipv6_literal(addr)) return false;
    if (slash == std::string_view::npos) return true;
    const std::string_view bits = text.substr(slash + 1);
    unsigned n = 0;
    const auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
    return !bits.empty() && ec == std::errc() && p == bits.data() + bits.size() && n <= (v4 ? 32u : 128u);
}

// Rules: "<N> per <unit>", "<N> per <M> <unit>s" (second, minute, hour, day, singular or
// plural) or "<N> per <duration>" ("30s"); N from 1 to 10^9; the period from 1 ms to a year.
std::optional<RateSpec> parse_rate(std::string_view text, std::string& error) {
    std::istringstream in{std::string(text)};
    std::string count_text, per, first, second, extra;
    in >> count_text >> per >> first >> second >> extra;
    std::uint64_t count = 0;
    const auto [p, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
    if (count_text.empty() || ec != std::errc() || p != count_text.data() + count_text.size() || per != "per" ||
        first.empty() || !extra.empty()) {
        error = "expected \"N per UNIT\" (e.g. \"10 per minute\", \"200 per day\", \"5 per 10 seconds\"), got " +
                rules::quote(text);
        return std::nullopt;
    }
    if (count == 0 || count > 1'000'000'000) {
        error = "the count in " + rules::quote(text) + " must be from 1 to 1000000000";
        return std::nullopt;
    }
    std::uint64_t multiple = 1;
    std::string unit = first;
    if (!second.empty()) {
        const auto [q, ec2] = std::from_chars(first.data(), first.data() + first.size(), multiple);
        if (ec2 != std::errc() || q != first.data() + first.size() || multiple == 0) {
            error = "expected \"N per M UNITS\" (e.g. \"5 per 10 seconds\"), got " + rules::quote(text);
            return std::nullopt;
        }
        unit = second;
    }
    static constexpr std::pair<std::string_view, std::int64_t> kUnits[] = {
        {"second", 1000}, {"seconds", 1000}, {"minute", 60'000}, {"minutes", 60'000},
        {"hour", 3'600'000}, {"hours", 3'600'000}, {"day", 86'400'000}, {"days", 86'400'000}};
    std::int64_t ms = -1;
    for (const auto& [name, factor] : kUnits) {
        if (unit == name) ms = factor;
    }
    if (ms < 0 && second.empty()) {
        const auto d = rules::parse_duration_detail(unit);
        if (d.problem == rules::Problem::None) ms = static_cast<std::int64_t>(d.value.count());
    }
    if (ms < 0) {
        error = "unknown unit " + rules::quote(unit) + " in " + rules::quote(text) +
                " (second, minute, hour, day, or a duration such as 30s)";
        return std::nullopt;
    }
    if (multiple > static_cast<std::uint64_t>(rules::kMaxDurationMs / std::max<std::int64_t>(ms, 1)) ||
        static_cast<std::int64_t>(multiple) * ms > rules::kMaxDurationMs || ms == 0) {
        error = "the period in " + rules::quote(text) + " must be from 1ms to 365d";
        return std::nullopt;
    }
    return RateSpec{count, Duration(static_cast<std::int64_t>(multiple) * ms), std::string(text)};
}

class PolicyReader {
public:
    explicit PolicyReader(Reader& r) : r_(r) {}

    void policies(const Field& m, Policies& p) {
        p.loc = r_.loc(m);
        r_.each_key(m, kPolicyKeys, [&](std::string_view key, const Field& f) {
            if (key == "jwt") read_jwt(r_, f, p.jwt.emplace());
            else if (key == "rate_limit") rate_limit(f, p.rate_limit.emplace());
            else if (key == "bulkhead") bulkhead(f, p.bulkhead.emplace());
            else if (key == "circuit_breaker") breaker(f, p.circuit_breaker.emplace());
            else if (key == "fault") fault(f, p.fault.emplace());
            else if (key == "fallback") fallback(f, p.fallback.emplace());
        });
    }

    void breaker(const Field& m, CircuitBreakerPolicy& b) {
        b.loc = r_.loc(m);
        r_.each_key(m, kBreakerKeys, [&](std::string_view key, const Field& f) {
            if (key == "consecutive_failures") r_.read_uint(f, rules::kConsecutiveFailures, b.consecutive_failures);
            else if (key == "failure_ratio") r_.read_percent(f, PercentForm::Fraction, 1.0, b.failure_ratio);
            else if (key == "min_requests") r_.read_uint(f, rules::kMinRequests, b.min_requests);
            else if (key == "window") r_.read_duration(f, false, b.window);
            else if (key == "timeout") r_.read_duration(f, false, b.timeout);
            else if (key == "max_timeout") r_.read_duration(f, false, b.max_timeout);
            else if (key == "half_open_requests") r_.read_uint(f, rules::kHalfOpenRequests, b.half_open_requests);
            else if (key == "close_after") r_.read_uint(f, rules::kHalfOpenRequests, b.close_after);
            else if (key == "failure_on") failure_on(f, b.failure_on);
            else if (key == "slow_call") r_.read_duration(f, true, b.slow_call);
        });
        if (b.max_timeout < b.timeout) {
            r_.error(m, "max_timeout (" + rules::duration_text(b.max_timeout) + ") is less than timeout (" +
                            rules::duration_text(b.timeout) + ")");
        }
    }

private:
    void rate_limit(const Field& m, RateLimitPolicy& rl) {
        rl.loc = r_.loc(m);
        bool has_limits = false;
        r_.each_key(m, kRateLimitKeys, [&](std::string_view key, const Field& f) {
            if (key == "limits") {
                has_limits = true;
                limits(f, rl.limits);
            } else if (key == "key") {
                limit_key(f, rl.key);
            } else if (key == "burst") {
                r_.read_uint(f, rules::kBurst, rl.burst);
            } else if (key == "delay") {
                r_.read_duration(f, true, rl.delay);
            } else if (key == "max_keys") {
                r_.read_uint(f, rules::kMaxKeys, rl.max_keys);
            } else if (key == "trusted_proxies") {
                trusted(f, rl.trusted_proxies);
            } else if (key == "shared") {
                r_.read_bool(f, rl.shared);
            }
        });
        if (!has_limits) r_.error(m, "needs limits: (e.g. limits: [\"10 per minute\"])");
    }

    void bulkhead(const Field& m, BulkheadPolicy& b) {
        b.loc = r_.loc(m);
        bool has_max = false;
        r_.each_key(m, kBulkheadKeys, [&](std::string_view key, const Field& f) {
            if (key == "max_concurrent") {
                has_max = true;
                r_.read_uint(f, rules::kMaxConcurrent, b.max_concurrent);
            }
            else if (key == "max_queue") r_.read_uint(f, rules::kMaxQueue, b.max_queue);
            else if (key == "queue_timeout") r_.read_duration(f, false, b.queue_timeout);
        });
        if (!has_max) r_.error(m, "needs max_concurrent: (the requests in flight it allows)");
    }

    void limits(const Field& f, std::vector<RateSpec>& out) {
        r_.each_item(f, [&](std::size_t i, const Field& item) {
            std::string text;
            if (!r_.read_string(item, text)) return;
            if (i >= 4) {
                r_.error(item, "at most 4 limits per rate_limit");
                return;
            }
            std::string error;
            if (auto spec = parse_rate(text, error)) {
                out.push_back(std::move(*spec));
            } else {
                r_.error(item, error);
            }
        });
        if (f.value.IsSequence() && f.value.size() == 0) r_.error(f, "must list at least one limit");
    }

    void limit_key(const Field& f, LimitKey& out) {
        std::string text;
        if (!r_.read_string(f, text)) return;
        if (text == "client" || text == "route") {
            out = LimitKey{text == "client" ? LimitKeyKind::Client : LimitKeyKind::Route, {}};
            return;
        }
        const auto colon = text.find(':');
        const std::string kind = text.substr(0, colon);
        if (colon == std::string::npos || (kind != "header" && kind != "cookie" && kind != "claim")) {
            r_.error(f, "unknown key " + rules::quote(text) +
                            " (expected client, route, header:NAME, cookie:NAME or claim:NAME)");
            return;
        }
        std::string name = text.substr(colon + 1);
        if (kind == "claim") { // a JWT claim (docs/jwt.md): any non-empty name of visible characters
            const bool ok = !name.empty() && name.size() <= 256 &&
                            std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; });
            if (!ok) r_.error(f, "invalid claim name " + rules::quote(name) + " in " + rules::quote(text));
            else out = LimitKey{LimitKeyKind::Claim, std::move(name)};
            return;
        }
        if (!rules::is_token(name)) {
            r_.error(f, "invalid " + kind + " name " + rules::quote(name) + " in " + rules::quote(text));
            return;
        }
        out = LimitKey{kind == "header" ? LimitKeyKind::Header : LimitKeyKind::Cookie, std::move(name)};
    }

    void trusted(const Field& f, std::vector<std::string>& out) {
        r_.each_item(f, [&](std::size_t, const Field& item) {
            std::string text;
            if (!r_.read_string(item, text)) return;
            if (!is_cidr(text)) {
                r_.error(item, "invalid address range " + rules::quote(text) + " (e.g. 10.0.0.0/8, 127.0.0.1, ::1/128)");
                return;
            }
            out.push_back(std::move(text));
        });
    }

    // Rules: the names retry_on uses (connect-failure, reset, timeout, 500, 502, 503, 504, 5xx).
    void failure_on(const Field& f, std::vector<std::string>& out) {
        std::vector<std::string> items;
        r_.each_item(f, [&](std::size_t, const Field& item) {
            const auto text = r_.scalar(item, "a failure class");
            if (!text) return;
            if (!parse_retry_on(*text)) {
                r_.error(item, "unknown value " + rules::quote(*text) + " (expected one of " +
                                   std::string(kRetryOnNames) + ")");
                return;
            }
            items.emplace_back(*text);
        });
        out = std::move(items);
    }

    void fault(const Field& m, FaultPolicy& fp) {
        fp.loc = r_.loc(m);
        r_.each_key(m, kFaultKeys, [&](std::string_view key, const Field& f) {
            if (key == "abort") {
                r_.each_key(f, kAbortKeys, [&](std::string_view k, const Field& v) {
                    if (k == "percent") r_.read_percent(v, PercentForm::Whole, 1.0, fp.abort_percent);
                    else r_.read_uint(v, rules::kFaultStatus, fp.abort_status);
                });
            } else if (key == "delay") {
                r_.each_key(f, kDelayKeys, [&](std::string_view k, const Field& v) {
                    if (k == "percent") r_.read_percent(v, PercentForm::Whole, 1.0, fp.delay_percent);
                    else r_.read_duration(v, false, fp.delay);
                });
            } else if (key == "header_faults") {
                r_.read_bool(f, fp.header_faults);
            } else if (key == "max_active") {
                r_.read_uint(f, rules::kMaxActiveFaults, fp.max_active);
            }
        });
        if (fp.delay_percent > 0 && fp.delay.count() == 0) r_.error(m, "delay: needs a duration");
    }

    void fallback(const Field& m, FallbackPolicy& fb) {
        fb.loc = r_.loc(m);
        bool reply_keys = false;
        r_.each_key(m, kFallbackKeys, [&](std::string_view key, const Field& f) {
            reply_keys = reply_keys || (key != "pool" && key != "stale_if_error" && key != "degraded_header");
            if (key == "degraded_header") {
                // A field name (a token), short enough to fit beside the reason in any answer.
                if (r_.read_string(f, fb.degraded_header) && !fb.degraded_header.empty() &&
                    (!rules::is_token(fb.degraded_header) || fb.degraded_header.size() > 64)) {
                    r_.error(f, "invalid header name " + rules::quote(fb.degraded_header) +
                                    " (a field name of at most 64 characters, or \"\" for none)");
                }
            } else if (key == "stale_if_error") {
                stale(f, fb.stale_if_error.emplace());
            } else if (key == "pool") {
                fb.pool_loc = r_.loc(f);
                r_.read_string(f, fb.pool);
            } else if (key == "status") {
                r_.read_uint(f, rules::kFallbackStatus, fb.status);
            } else if (key == "content_type") {
                r_.read_string(f, fb.content_type);
            } else if (key == "body") {
                r_.read_string(f, fb.body);
            } else if (key == "body_file") {
                if (r_.read_string(f, fb.body_file)) read_body_file(f, fb);
            } else if (key == "headers") {
                headers(f, fb.headers);
            }
        });
        // `pool` or `stale_if_error` alone: what neither serves gets haven's usual answer.
        fb.reply = reply_keys || (fb.pool.empty() && !fb.stale_if_error);
    }

    void stale(const Field& m, StaleIfError& s) {
        r_.each_key(m, kStaleKeys, [&](std::string_view key, const Field& f) {
            if (key == "max_bytes") r_.read_size(f, kStaleBytes, s.max_bytes);
            else if (key == "max_object") r_.read_size(f, kStaleBytes, s.max_object);
            else if (key == "max_stale") r_.read_duration(f, true, s.max_stale);
        });
        if (s.max_object > s.max_bytes) r_.error(m, "max_object is larger than max_bytes");
    }

    void read_body_file(const Field& f, FallbackPolicy& fb) {
        std::ifstream in(fb.body_file, std::ios::binary);
        if (!in) {
            r_.error(f, "cannot read " + rules::quote(fb.body_file) + ": " + std::strerror(errno));
            return;
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        if (ss.str().size() > kMaxFallbackBody) {
            r_.error(f, rules::quote(fb.body_file) + " is larger than 1 MiB");
            return;
        }
        fb.body = ss.str();
    }

    void headers(const Field& f, std::vector<std::pair<std::string, std::string>>& out) {
        if (!f.value.IsMap()) {
            r_.error(f, "expected a mapping of header names to values, got " + kind_of(f.value));
            return;
        }
        for (auto it = f.value.begin(); it != f.value.end(); ++it) {
            const std::string name = it->first.Scalar();
            const std::string value = it->second.IsScalar() ? it->second.Scalar() : std::string();
            Field at{it->first.Mark(), it->second, child_path(f.path, name)};
            if (!rules::is_token(name)) {
                r_.error(at, "invalid header name " + rules::quote(name));
            } else if (rules::has_control_char(value, true)) {
                r_.error(at, "invalid header value " + rules::quote(value) + " (visible characters and spaces only)");
            } else {
                out.emplace_back(name, value);
            }
        }
    }

    Reader& r_;
};

} // namespace

void read_policies(Reader& reader, const Field& f, Policies& out) { PolicyReader(reader).policies(f, out); }

void read_pool_breaker(Reader& reader, const Field& f, CircuitBreakerPolicy& out) { PolicyReader(reader).breaker(f, out); }

void read_resource_limits(Reader& reader, const Field& f, Pool& pool) {
    static constexpr std::string_view kKeys[] = {"max_requests", "max_connections", "max_retries"};
    auto& rl = pool.resource_limits;
    rl.loc = reader.loc(f);
    reader.each_key(f, kKeys, [&](std::string_view key, const Field& v) {
        if (key == "max_requests") reader.read_uint(v, rules::kMaxQueue, rl.max_requests);
        else if (key == "max_connections") reader.read_uint(v, rules::kMaxQueue, rl.max_connections);
        else if (key == "max_retries") reader.read_uint(v, rules::kMaxQueue, rl.max_retries);
    });
}

void read_server_queue(Reader& reader, const Field& f, Pool& pool) {
    static constexpr std::string_view kKeys[] = {"max", "timeout"};
    auto& q = pool.queue;
    q.loc = reader.loc(f);
    reader.each_key(f, kKeys, [&](std::string_view key, const Field& v) {
        if (key == "max") reader.read_uint(v, rules::kMaxQueue, q.max);
        else if (key == "timeout") reader.read_duration(v, false, q.timeout);
    });
}

std::optional<RateSpec> parse_rate_spec(std::string_view text, std::string& error) { return parse_rate(text, error); }

} // namespace haven::config
