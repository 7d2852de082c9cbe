// Stage: stickiness (called by pick and respond). A request whose sticky cookie or stick table
// entry names a server goes there while that server may take it (up, not ejected, not in
// maintenance; drained servers keep their sticky clients). Otherwise, with `redispatch` (the
// default), the balancer picks another and the response sticks the client to it; without, the
// request is answered 503. Retries after a failed attempt follow the pool's retry rules: with
// redispatch they go to other servers, without they stay on the sticky one.
#include "core/clock.hpp"
#include "http/fields.hpp"
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"
#include "upstream/lb/load_balancer.hpp"

#include <algorithm>

namespace haven::proxy::stages {
namespace {

upstream::HostIndex as_host(std::size_t i) {
    return i == SIZE_MAX ? upstream::kNoHost : static_cast<upstream::HostIndex>(i);
}

// A table key from a value: never 0 (the table's "no key").
std::uint64_t stick_hash(std::string_view v) { return upstream::hash_key(v) | 1; }

// The request's stick table key: a hash of the client's address, the header's or the cookie's
// value; 0 when the request has none (it is balanced and not remembered).
std::uint64_t table_key(const RequestContext& ctx, const config::StickTableConfig& t) {
    std::string_view v;
    switch (t.on) {
    case config::StickOn::Source: v = ctx.session->client_ip(); break;
    case config::StickOn::Header: v = http::find_field(ctx.req, t.name); break;
    case config::StickOn::Cookie: v = http::find_cookie(ctx.req, t.name); break;
    }
    return v.empty() ? 0 : stick_hash(v);
}

// Once per request, at its first pick: the server its cookie, else its table entry, names, and
// the request's fields as forwarded (the cookie taken off or unprefixed).
void find_sticky_server(RequestContext& ctx, session::Stickiness& st) {
    ctx.sticky_done = true;
    if (const auto* c = st.cookie()) {
        const std::string_view id = session::id_in_value(c->mode, http::find_cookie(ctx.req, c->name));
        if (!id.empty()) ctx.cookie_host = as_host(st.host_of_value(id));
        if (session::rewrite_request_cookies(ctx.req.headers, *c, ctx.sticky_req)) {
            ctx.req.headers = std::span<http::Header>(ctx.sticky_req.headers);
        }
    }
    ctx.sticky_host = ctx.cookie_host;
    auto* table = st.table();
    if (!table) return;
    ctx.stick_key = table_key(ctx, *st.config().table);
    if (ctx.stick_key == 0 || ctx.sticky_host != upstream::kNoHost) return;
    const TimePoint now = ctx.worker->scheduler.now();
    const auto hit = table->find(ctx.stick_key, now);
    if (!hit) return;
    ctx.sticky_host = as_host(st.host_of_key(hit->server));
    // A shared entry in use is written again once half its expiry has passed since its last
    // write, so that other instances and the store keep it as long as this one does.
    const auto& t = *st.config().table;
    if (ctx.sticky_host == upstream::kNoHost || !t.shared || !st.shared()) return;
    const std::int64_t wall_ms = wall_time_us() / 1000; // read only for shared tables
    if (wall_ms - hit->stamp > std::chrono::duration_cast<std::chrono::milliseconds>(t.expire).count() / 2) {
        const session::StickWrite w{ctx.stick_key, hit->server, wall_ms};
        table->put(w.key, w.server, w.stamp, now);
        st.published(ctx.worker->index, w);
    }
}

} // namespace

upstream::HostIndex sticky_pick(RequestContext& ctx, bool& refuse) {
    const auto& set = ctx.pool->hosts();
    auto* st = set.sticky.get();
    if (!st) return upstream::kNoHost;
    if (!ctx.sticky_done) find_sticky_server(ctx, *st);
    const upstream::HostIndex h = ctx.sticky_host;
    if (h == upstream::kNoHost || h >= set.hosts.size()) return upstream::kNoHost;
    const bool redispatch = st->config().redispatch;
    auto& counters = st->counters(ctx.worker->index);
    // Rules: a retry after the sticky server failed goes elsewhere with redispatch (the response
    // then sticks the client to the new server) and back to it without; a sticky server that may
    // not take requests now is skipped (redispatch) or the request is refused.
    const auto tried = std::span(ctx.tried.data(), std::min<std::size_t>(ctx.attempts, ctx.tried.size()));
    if (std::find(tried.begin(), tried.end(), h) != tried.end()) {
        if (!redispatch) return h;
        if (tried.back() == h) counters.redispatched.inc(); // once, as the retry leaves it
        return upstream::kNoHost;
    }
    const bool ok = h < set.sticky_ok.size() && set.sticky_ok[h] && ctx.pool->host(h).refused_seq == 0;
    if (ok) {
        (h == ctx.cookie_host ? counters.cookie_hits : counters.table_hits).inc();
        return h;
    }
    if (!redispatch) {
        counters.refused.inc();
        refuse = true;
        return upstream::kNoHost;
    }
    counters.redispatched.inc();
    return upstream::kNoHost;
}

void sticky_response(RequestContext& ctx, std::string_view& insert) {
    auto* st = ctx.pool->hosts().sticky.get();
    const upstream::HostIndex h = ctx.host;
    if (!st || h == upstream::kNoHost || h >= st->servers()) return;
    auto& counters = st->counters(ctx.worker->index);
    if (auto* table = st->table()) {
        // Learn mode: the application's own session cookie, as the server sets it, sticks to the
        // server that set it. Other keys stick to the server that answered.
        const auto& t = *st->config().table;
        std::uint64_t key = ctx.stick_key;
        if (t.on == config::StickOn::Cookie) {
            const std::string_view v = session::set_cookie_value(ctx.resp.headers, t.name);
            key = v.empty() ? 0 : stick_hash(v);
        }
        if (key != 0 && (t.on == config::StickOn::Cookie || ctx.sticky_host != h)) {
            const session::StickWrite w{key, st->server_key(h), wall_time_us() / 1000};
            const auto put = table->put(w.key, w.server, w.stamp, ctx.worker->scheduler.now());
            if (put == session::StickTable::Put::Added || put == session::StickTable::Put::Changed) {
                counters.assigned.inc();
                if (t.shared) st->published(ctx.worker->index, w);
            }
        }
    }
    const auto* c = st->cookie();
    if (!c) return;
    if (c->mode == config::CookieMode::Insert) {
        if (ctx.cookie_host == h) return; // the client already names this server
        insert = st->insert_lines(h);
        counters.assigned.inc();
        return;
    }
    if (session::rewrite_response_cookies(ctx.resp.headers, *c, st->value(h), ctx.sticky_resp)) {
        ctx.resp.headers = std::span<http::Header>(ctx.sticky_resp.headers);
        if (ctx.cookie_host != h) counters.assigned.inc();
    }
}

} // namespace haven::proxy::stages
