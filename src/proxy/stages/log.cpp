// Stage: log. One access-log record per request, handed to the log writer without blocking.
#include "net/tls/channel.hpp"
#include "proxy/access_log.hpp"
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

namespace haven::proxy::stages {

void log(RequestContext& ctx) {
    auto& w = *ctx.worker;
    if (!w.access_log) return;
    AccessRecord r;
    r.time_us = wall_time_us();
    r.duration_us = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(w.scheduler.now() - ctx.start).count());
    r.time_us -= r.duration_us;
    r.status = static_cast<std::uint16_t>(ctx.status);
    r.attempts = ctx.attempts;
    r.flag = ctx.flag;
    r.bytes_in = ctx.bytes_in;
    r.bytes_out = ctx.bytes_out;
    r.client.set(ctx.session->client_ip());
    r.method.set(ctx.req.method_text);
    r.path.set(ctx.req.target);
    r.host.set(ctx.req.host);
    r.listener.set(ctx.session->listener_metrics().name);
    if (const auto* tls = ctx.session->client().tls()) {
        r.tls_version.set(tls->version());
        r.tls_cipher.set(tls->cipher());
    }
    if (ctx.pool) {
        const auto& set = ctx.pool->hosts();
        r.pool.set(set.name);
        std::string tried;
        for (std::size_t i = 0; i < std::min<std::size_t>(ctx.attempts, ctx.tried.size()); ++i) {
            if (ctx.tried[i] >= set.hosts.size()) continue;
            if (!tried.empty()) tried += ',';
            tried += set.hosts[ctx.tried[i]].name;
        }
        r.tried.set(tried);
        if (ctx.host < set.hosts.size()) r.server.set(set.hosts[ctx.host].name);
    }
    if (ctx.generated_id) {
        r.request_id.set(std::string_view(ctx.request_id.data(), ctx.request_id.size()));
    } else if (const auto* h = ctx.req.find(http::HeaderId::XRequestId)) {
        r.request_id.set(h->value);
    }
    if (!w.access_log->try_push(r)) w.stats.access_log_dropped.inc();
}

} // namespace haven::proxy::stages
