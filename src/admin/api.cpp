#include "admin/api.hpp"

#include "admin/assets.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include <charconv>

namespace haven::admin {
namespace {

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    std::size_t pos = 0;
    while (pos < path.size()) {
        const auto slash = path.find('/', pos);
        const auto end = slash == std::string::npos ? path.size() : slash;
        if (end > pos) parts.push_back(path.substr(pos, end - pos));
        pos = end + 1;
    }
    return parts;
}

bool is_write(const std::string& method) { return method != "GET"; }

Response health(AdminModel& m, bool deep) {
    if (!deep) return Response::text(200, "ok\n");
    nlohmann::json checks = nlohmann::json::object();
    bool ok = true;
    for (const auto& c : deep_health(m)) {
        checks[c.name] = {{"ok", c.ok}, {"detail", c.detail}};
        ok = ok && c.ok;
    }
    return Response::json(ok ? 200 : 503, nlohmann::json{{"status", ok ? "ok" : "failing"}, {"checks", checks}}.dump(2) + "\n");
}

} // namespace

bool is_dashboard_file(const std::string& path) {
    return path == "/" || path == "/app.js" || path == "/dom.js" || path == "/services.js" || path == "/style.css";
}

// Rules, in order:
//   - a write (any method but GET/HEAD) needs the token when one is configured: 401 otherwise;
//   - a read from a non-loopback client needs the token when one is configured, except the
//     dashboard's own files (a browser cannot send a bearer token when it loads a page; the page
//     then asks for the token and sends it with its API calls);
//   - unknown paths are 404, known paths with the wrong method 405.
Response Api::handle(const Request& r) {
    const bool loopback = r.peer.is_loopback() ||
                          (r.peer.is_v6() && r.peer.to_v6().is_v4_mapped() &&
                           asio::ip::make_address_v4(asio::ip::v4_mapped, r.peer.to_v6()).is_loopback());
    const bool needs_token = is_write(r.method) || (!loopback && !is_dashboard_file(r.path));
    if (!token_.empty() && needs_token && !token_ok(r)) {
        Response resp = Response::error(401, "a valid bearer token is required (Authorization: Bearer <token>)");
        resp.headers.emplace_back("WWW-Authenticate", "Bearer");
        return resp;
    }
    const auto parts = split_path(r.path);
    if (!parts.empty() && parts[0] == "api") return route_api(r, parts);
    if (r.method != "GET") return Response::error(405, "method not allowed: " + r.method + " " + r.path);
    if (r.path == "/metrics") {
        metrics::Exposition e;
        for (auto* s : model_.sections()) s->metrics(e);
        return Response::text(200, e.str(), "text/plain; version=0.0.4; charset=utf-8");
    }
    if (r.path == "/health") return health(model_, r.param("deep") == "1" || r.param("deep") == "true");
    if (r.path == "/ready") {
        const bool ready = model_.ready();
        return Response::json(ready ? 200 : 503, nlohmann::json{{"ready", ready}}.dump() + "\n");
    }
    std::string_view type;
    const auto body = dashboard_asset(r.path == "/" ? "/index.html" : r.path, type);
    if (!body.empty()) return Response::text(200, std::string(body), std::string(type));
    return Response::error(404, "no such path: " + r.path);
}

Response Api::route_api(const Request& r, const std::vector<std::string>& parts) {
    const std::string& what = parts.size() > 1 ? parts[1] : "";
    for (auto* s : model_.sections()) {
        if (s->name() != what) continue;
        Response out;
        if (s->handle(r, std::vector<std::string>(parts.begin() + 2, parts.end()), out)) return out;
    }
    if (what == "reload" && parts.size() == 2) {
        if (r.method != "POST") return Response::error(405, "use POST /api/reload");
        const std::vector<std::string> errors = model_.reload();
        if (!errors.empty()) {
            const nlohmann::json body{{"error", "reload refused: " + errors.front()}, {"errors", errors}};
            return Response::json(422, body.dump() + "\n");
        }
        const auto cfg = model_.config();
        std::size_t servers = 0;
        for (const auto& p : cfg->pools) servers += p.servers.size();
        const nlohmann::json body{{"reloaded", true}, {"source", cfg->source}, {"listeners", cfg->listeners.size()},
                                  {"pools", cfg->pools.size()}, {"servers", servers}};
        return Response::json(200, body.dump() + "\n");
    }
    if (r.method != "GET") return Response::error(405, "method not allowed: " + r.method + " " + r.path);
    if (what == "status" && parts.size() == 2) return Response::json(200, status_json(model_));
    if (what == "events" && parts.size() == 2) {
        std::uint64_t since = 0;
        const std::string s = r.param("since");
        const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), since);
        if (!s.empty() && (ec != std::errc() || p != s.data() + s.size())) {
            return Response::error(400, "since must be an event sequence number, got \"" + s + "\"");
        }
        return Response::json(200, events_json(model_, since));
    }
    if (what == "config" && parts.size() == 2) return Response::json(200, config_json(*model_.config()));
    return Response::error(404, "no such API path: " + r.path);
}

bool Api::token_ok(const Request& r) const {
    const std::string auth = r.header("authorization");
    const std::string prefix = "Bearer ";
    if (auth.size() != prefix.size() + token_.size() || auth.compare(0, prefix.size(), prefix) != 0) return false;
    return CRYPTO_memcmp(auth.data() + prefix.size(), token_.data(), token_.size()) == 0;
}

} // namespace haven::admin
