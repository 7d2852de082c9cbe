// Stage: pick. The pool's load balancer chooses a server among those that may take traffic,
// skipping the servers this request already tried.
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

namespace haven::proxy::stages {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The value of cookie `name` in the request's Cookie fields (RFC 6265 §4.2.1: "a=1; b=2").
std::string_view find_cookie(const http::RequestHead& req, std::string_view name) {
    for (const auto& h : req.headers) {
        if (h.id != http::HeaderId::Cookie) continue;
        std::string_view rest = h.value;
        while (!rest.empty()) {
            const auto semi = rest.find(';');
            std::string_view pair = trim(rest.substr(0, semi));
            rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
            const auto eq = pair.find('=');
            if (eq != std::string_view::npos && pair.substr(0, eq) == name) return trim(pair.substr(eq + 1));
        }
    }
    return {};
}

std::string_view find_header(const http::RequestHead& req, std::string_view name) {
    for (const auto& h : req.headers) {
        if (iequals(h.name, name)) return h.value;
    }
    return {};
}

// The hash key for `balance: hash`; empty when the request lacks it (the balancer then falls
// back to round-robin, as documented).
std::string_view hash_source(const RequestContext& ctx, const config::HashKey& key) {
    switch (key.on) {
    case config::HashOn::Source: return ctx.session->client_ip();
    case config::HashOn::Path: return ctx.req.path;
    case config::HashOn::Header: return find_header(ctx.req, key.name);
    case config::HashOn::Cookie: return find_cookie(ctx.req, key.name);
    }
    return {};
}

} // namespace

StageResult pick(RequestContext& ctx) {
    auto& pool = *ctx.pool;
    upstream::PickRequest pr;
    pr.exclude = std::span<const upstream::HostIndex>(ctx.tried.data(), std::min<std::size_t>(ctx.attempts, ctx.tried.size()));
    const auto& set = pool.hosts();
    if (set.balance == config::Balance::Hash) {
        const std::string_view key = hash_source(ctx, set.hash_on);
        if (!key.empty()) {
            pr.hash = upstream::hash_key(key);
            pr.has_hash = true;
        }
    }
    upstream::HostIndex h = pool.pick(pr);
    if (h == upstream::kNoHost && (!pr.exclude.empty() || pool.refused_count() > 0)) {
        // Every serving server was tried, or refused this worker's connects: the request goes to
        // the best usable server of another tier, else to a serving server already tried (a
        // retry; it waits the backoff then).
        h = pool.fallback(pr.exclude);
        if (h == upstream::kNoHost && !pr.exclude.empty()) {
            pr.exclude = {};
            h = pool.pick(pr);
        }
    }
    if (h == upstream::kNoHost) return StageResult::respond(503, ResponseFlag::NoHealthyServer);
    ctx.host = h;
    ctx.host_rt = pool.acquire(h);
    if (ctx.attempts < ctx.tried.size()) ctx.tried[ctx.attempts] = h;
    ++ctx.attempts;
    return StageResult::next();
}

} // namespace haven::proxy::stages
