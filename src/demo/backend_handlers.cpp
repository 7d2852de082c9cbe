#include "demo/backend_handlers.hpp"

#include "http/local_reply.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace haven::demo {
namespace {

std::string response(int status, std::string_view content_type, std::string_view body, const BackendState& st,
                     const Request& r, std::string_view extra = {}) {
    // 1xx, 204 and 304 responses have no body and no Content-Length (RFC 9110 §8.6, §15.3.5).
    if (status < 200 || status == 204 || status == 304) {
        return fmt::format("HTTP/1.1 {} {}\r\nX-Backend: {}\r\n{}{}\r\n", status, http::reason_phrase(status),
                           st.settings.name, extra, r.keep_alive ? "" : "Connection: close\r\n");
    }
    return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nX-Backend: {}\r\n{}{}\r\n{}", status,
                       http::reason_phrase(status), content_type, body.size(), st.settings.name, extra,
                       r.keep_alive ? "" : "Connection: close\r\n", r.head ? std::string_view() : body);
}

std::string text(int status, std::string_view body, const BackendState& st, const Request& r) {
    return response(status, "text/plain", body, st, r);
}

// /set-cookie?name=N&value=V: a response that sets cookie N (an application's session cookie, for
// stick tables' learn mode and the sticky cookie's rewrite and prefix modes). Without a value,
// one unique to this backend and request.
std::string set_cookie(const Request& r, const BackendState& st) {
    const std::string name = query_param(r.query, "name");
    std::string value = query_param(r.query, "value");
    if (value.empty()) value = fmt::format("{}-{}", st.settings.name, st.requests);
    const auto plain = [](const std::string& v) {
        return !v.empty() && v.size() <= 128 && std::all_of(v.begin(), v.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
    };
    if (!plain(name) || !plain(value)) {
        return text(400, "name and value: letters, digits, '-', '_' and '.'\n", st, r);
    }
    return response(200, "text/plain", fmt::format("{} set {}={}\n", st.settings.name, name, value), st, r,
                    fmt::format("Set-Cookie: {}={}; Path=/; HttpOnly\r\n", name, value));
}

long parse_long(const std::string& s, long fallback) {
    long v = fallback;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return (ec == std::errc() && p == s.data() + s.size()) ? v : fallback;
}

double parse_double(const std::string& s, double fallback) {
    try {
        std::size_t pos = 0;
        const double v = std::stod(s, &pos);
        return pos == s.size() ? v : fallback;
    } catch (...) {
        return fallback;
    }
}

nlohmann::json settings_json(const BackendState& st) {
    const auto& s = st.settings;
    return {{"name", s.name},       {"status", s.status},         {"latency_ms", s.latency_ms},
            {"error_rate", s.error_rate}, {"close_rate", s.close_rate}, {"health", s.fail_health ? "fail" : "ok"},
            {"health_latency_ms", s.health_latency_ms},
            {"requests", st.requests}, {"connections", st.connections},
            {"in_flight", st.in_flight}, {"max_in_flight", st.max_in_flight}};
}

// /_control: change behaviour at run time. Unknown or invalid values are a 400 naming the key.
Action control(const Request& r, BackendState& st) {
    auto& s = st.settings;
    std::string bad;
    if (auto v = query_param(r.query, "health"); !v.empty()) {
        if (v == "fail" || v == "ok") s.fail_health = v == "fail";
        else bad = "health must be fail or ok";
    }
    if (auto v = query_param(r.query, "latency_ms"); !v.empty()) {
        const long ms = parse_long(v, -1);
        if (ms >= 0 && ms <= 3'600'000) s.latency_ms = static_cast<int>(ms);
        else bad = "latency_ms must be 0..3600000";
    }
    if (auto v = query_param(r.query, "health_latency_ms"); !v.empty()) {
        const long ms = parse_long(v, -1);
        if (ms >= 0 && ms <= 3'600'000) s.health_latency_ms = static_cast<int>(ms);
        else bad = "health_latency_ms must be 0..3600000";
    }
    if (auto v = query_param(r.query, "error_rate"); !v.empty()) {
        const double f = parse_double(v, -1);
        if (f >= 0 && f <= 1) s.error_rate = f;
        else bad = "error_rate must be 0..1";
    }
    if (auto v = query_param(r.query, "close_rate"); !v.empty()) {
        const double f = parse_double(v, -1);
        if (f >= 0 && f <= 1) s.close_rate = f;
        else bad = "close_rate must be 0..1";
    }
    if (auto v = query_param(r.query, "status"); !v.empty()) {
        const long code = parse_long(v, 0);
        if (code >= 200 && code <= 599) s.status = static_cast<int>(code);
        else bad = "status must be 200..599";
    }
    if (!bad.empty()) return {text(400, bad + "\n", st, r)};
    return {response(200, "application/json", settings_json(st).dump() + "\n", st, r)};
}

Action echo(const Request& r, const BackendState& st) {
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& [k, v] : r.headers) headers.push_back({k, v});
    nlohmann::json j = {{"method", r.method}, {"path", r.path},       {"query", r.query},
                        {"headers", headers}, {"body_length", r.body_length}, {"backend", st.settings.name}};
    return {response(200, "application/json", j.dump() + "\n", st, r)};
}

Action bytes(const Request& r, const BackendState& st) {
    const long n = parse_long(query_param(r.query, "n"), -1);
    if (n < 0) return {text(400, "n must be a byte count\n", st, r)};
    Action a;
    const bool chunked = query_param(r.query, "chunked") == "1";
    a.chunked = chunked && !r.head; // a response to HEAD has no body, not even a last chunk
    a.stream_bytes = r.head ? 0 : static_cast<std::uint64_t>(n);
    const std::string framing = chunked ? "Transfer-Encoding: chunked\r\n" : fmt::format("Content-Length: {}\r\n", n);
    a.response = fmt::format("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n{}X-Backend: {}\r\n{}\r\n",
                             framing, st.settings.name, r.keep_alive ? "" : "Connection: close\r\n");
    return a;
}

} // namespace

std::string query_param(const std::string& query, const std::string& key) {
    std::size_t pos = 0;
    while (pos <= query.size()) {
        const auto amp = query.find('&', pos);
        const std::string part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        const auto eq = part.find('=');
        if (part.substr(0, eq) == key) return eq == std::string::npos ? std::string() : part.substr(eq + 1);
        if (amp == std::string::npos) break;
        pos = amp + 1;
    }
    return {};
}

Request Request::from(const http::RequestHead& h) {
    Request r;
    r.method = std::string(h.method_text);
    r.path = std::string(h.path);
    r.query = std::string(h.query);
    for (const auto& f : h.headers) r.headers.emplace_back(std::string(f.name), std::string(f.value));
    r.keep_alive = h.keep_alive();
    r.head = h.method == http::Method::Head;
    return r;
}

Action handle(const Request& r, BackendState& st) {
    if (r.path == "/_control") return control(r, st);
    if (r.path == "/health") {
        Action h{st.settings.fail_health ? text(503, "unhealthy\n", st, r) : text(200, "ok\n", st, r)};
        h.delay_ms = st.settings.health_latency_ms;
        return h;
    }
    if (r.path == "/stats") return {response(200, "application/json", settings_json(st).dump() + "\n", st, r)};
    Action a;
    if (st.settings.close_rate > 0 && st.random.uniform01() < st.settings.close_rate) {
        a.abort = true;
        return a;
    }
    if (st.settings.error_rate > 0 && st.random.uniform01() < st.settings.error_rate) {
        a = {text(500, "injected error\n", st, r)};
    } else if (r.path == "/echo") {
        a = echo(r, st);
    } else if (r.path == "/bytes") {
        a = bytes(r, st);
    } else if (r.path == "/set-cookie") {
        a = {set_cookie(r, st)};
    } else if (r.path.starts_with("/status/")) {
        const long code = parse_long(r.path.substr(8), 0);
        a = code >= 200 && code <= 599 ? Action{text(static_cast<int>(code), "status\n", st, r)}
                                       : Action{text(400, "status must be 200..599\n", st, r)};
    } else if (r.path == "/delay") {
        a = {text(200, "delayed\n", st, r)};
        a.delay_ms = static_cast<int>(std::clamp(parse_long(query_param(r.query, "ms"), 0), 0L, 3'600'000L));
    } else if (r.path == "/close") {
        a.abort = true;
        return a;
    } else {
        a = {text(st.settings.status, fmt::format("{} request {}\n", st.settings.name, st.requests), st, r)};
    }
    a.delay_ms += st.settings.latency_ms;
    return a;
}

} // namespace haven::demo
