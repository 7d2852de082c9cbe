#include "runtime/shared_subsystem.hpp"

#include "net/address.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace haven::runtime {
namespace {

bool same(const std::optional<config::SharedState>& a, const std::optional<config::SharedState>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a) return true;
    const auto texts = [](const std::vector<config::Endpoint>& v) {
        std::vector<std::string> out;
        for (const auto& e : v) out.push_back(e.text);
        return out;
    };
    return texts(a->redis) == texts(b->redis) && texts(a->sentinels) == texts(b->sentinels) &&
           a->master == b->master && a->password == b->password && a->database == b->database &&
           a->prefix == b->prefix && a->sync == b->sync;
}

std::vector<shared::RedisAddress> addresses(const std::vector<config::Endpoint>& list) {
    std::vector<shared::RedisAddress> out;
    for (const auto& e : list) {
        std::string error;
        const auto ep = net::resolve(e, error);
        if (!ep) throw std::runtime_error("shared_state: " + e.text + ": " + error);
        out.push_back({ep->address().to_string(), ep->port()});
    }
    return out;
}

} // namespace

SharedSubsystem::SharedSubsystem(asio::io_context& control, EventLog& events, upstream::ControlPlane& plane,
                                 policy::PolicyStore& policies, const config::Config& config)
    : plane_(plane), policies_(policies), config_(config.shared_state) {
    if (!config_) return;
    shared::RedisSettings s;
    s.servers = addresses(config_->redis);
    s.sentinels = addresses(config_->sentinels);
    s.master_name = config_->master;
    s.password = config_->password;
    s.database = static_cast<int>(config_->database);
    auto lookup = [this](std::string_view pool) -> const session::Stickiness* {
        auto* p = plane_.pool(pool);
        return p ? p->sticky() : nullptr;
    };
    sharing_ = std::make_unique<shared::StickSharing>(control, plane.scheduler(), std::move(s), config_->prefix, events,
                                                      std::move(lookup), [this] { return shared_pools(); });
    limits_ = std::make_unique<shared::LimitSharing>(sharing_->client(), plane.scheduler(), config_->prefix,
                                                     std::chrono::duration_cast<Duration>(config_->sync),
                                                     [this] { return shared_limits(); });
    attach();
}

// The routes' shared rate limits as the policy store has them now (a reload's new routes included).
std::vector<shared::LimitSharing::Source> SharedSubsystem::shared_limits() const {
    std::vector<shared::LimitSharing::Source> out;
    for (const auto& [name, e] : policies_.routes()) {
        if (!e.policies) continue;
        for (std::size_t i = 0; i < e.policies->limiters.size(); ++i) {
            if (e.policies->limiters[i].table->shared()) out.push_back({e.policies, i});
        }
    }
    return out;
}

SharedSubsystem::~SharedSubsystem() = default;

std::vector<std::string> SharedSubsystem::shared_pools() const {
    std::vector<std::string> out;
    for (const auto& p : plane_.pools()) {
        const auto* st = p->sticky();
        if (st && st->table() && st->config().table->shared) out.push_back(p->name());
    }
    return out;
}

void SharedSubsystem::attach() {
    if (!sharing_) return;
    for (const auto& p : plane_.pools()) {
        const auto* st = p->sticky();
        if (st && st->table() && st->config().table->shared) st->attach(sharing_.get());
    }
}

void SharedSubsystem::prepare(const config::Config& next, std::vector<std::string>& errors) {
    if (same(config_, next.shared_state)) return;
    errors.push_back("shared_state: changed; a reload keeps the running connection to Redis, so restart haven to "
                     "apply it");
}

void SharedSubsystem::commit(const std::shared_ptr<const config::Config>&) { attach(); }

void SharedSubsystem::start() {
    if (!sharing_) return;
    sharing_->start();
    limits_->start();
}

void SharedSubsystem::stop() {
    if (!sharing_) return;
    limits_->stop();
    sharing_->stop();
}

void SharedSubsystem::limit_metrics(admin::metrics::Exposition& e) {
    const auto& c = limits_->counters();
    std::uint64_t untracked = 0;
    for (const auto& src : shared_limits()) untracked += src.route->limiters[src.index].table->untracked();
    const std::pair<const char*, std::uint64_t> admissions[] = {{"sent", c.sent}, {"unsent", c.unsent},
                                                                {"untracked", untracked}};
    for (const auto& [result, n] : admissions) {
        e.counter("haven_shared_limit_admissions_total",
                  "Requests shared rate limits admitted here: counted in Redis (sent), dropped because Redis was "
                  "down or a call failed (unsent), or not counted because too many keys waited (untracked).",
                  {{"result", result}}, static_cast<double>(n));
    }
    const std::pair<const char*, std::uint64_t> calls[] = {{"ok", c.calls}, {"failed", c.failed_calls}};
    for (const auto& [result, n] : calls) {
        e.counter("haven_shared_limit_calls_total", "Calls of the shared-limit script: answered (ok) or failed.",
                  {{"result", result}}, static_cast<double>(n));
    }
    e.counter("haven_shared_limit_keys_total", "Keys whose counts Redis took and whose common state was merged back.",
              {}, static_cast<double>(c.keys));
}

void SharedSubsystem::metrics(admin::metrics::Exposition& e) {
    if (!sharing_) return;
    const auto& c = sharing_->counters();
    e.gauge("haven_shared_state_up", "1 while haven is connected to the shared_state Redis.", {}, sharing_->up() ? 1 : 0);
    e.gauge("haven_shared_state_backlog", "Stick table writes waiting for Redis to return.", {},
            static_cast<double>(sharing_->backlog()));
    const std::pair<const char*, std::uint64_t> writes[] = {
        {"published", c.published}, {"superseded", c.superseded}, {"failed", c.failed}, {"dropped", c.dropped}};
    for (const auto& [result, n] : writes) {
        e.counter("haven_shared_state_writes_total",
                  "Stick table writes sent to Redis: taken (published), refused for a later one (superseded), "
                  "failed (kept for later), dropped from a full backlog.",
                  {{"result", result}}, static_cast<double>(n));
    }
    const std::pair<const char*, std::uint64_t> reads[] = {
        {"applied", c.applied}, {"stale", c.stale}, {"loaded", c.loaded}};
    for (const auto& [result, n] : reads) {
        e.counter("haven_shared_state_entries_total",
                  "Entries other instances wrote, put in the local tables (applied), already superseded (stale), "
                  "or reloaded from Redis after it returned (loaded).",
                  {{"result", result}}, static_cast<double>(n));
    }
    e.counter("haven_shared_state_resyncs_total", "Times the tables were reloaded from Redis after a (re)connect.", {},
              static_cast<double>(c.resyncs));
    e.counter("haven_shared_state_failovers_total", "Times the Redis master changed address (Sentinel failover).", {},
              static_cast<double>(sharing_->redis().failovers));
    limit_metrics(e);
}

void SharedSubsystem::status(nlohmann::json& out) {
    if (!sharing_) return;
    nlohmann::json j;
    j["up"] = sharing_->up();
    j["master"] = sharing_->master();
    j["backlog"] = sharing_->backlog();
    j["pools"] = shared_pools();
    const auto& c = sharing_->counters();
    j["writes"] = {{"published", c.published}, {"superseded", c.superseded}, {"failed", c.failed}, {"dropped", c.dropped}};
    j["entries"] = {{"applied", c.applied}, {"stale", c.stale}, {"loaded", c.loaded}};
    const auto& l = limits_->counters();
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& src : shared_limits()) ids.push_back(src.route->limiters[src.index].id);
    const auto sync_ms = std::chrono::duration_cast<std::chrono::milliseconds>(limits_->interval()).count();
    j["limits"] = {{"tables", std::move(ids)}, {"sync_ms", sync_ms}, {"sent", l.sent}, {"unsent", l.unsent},
                   {"keys", l.keys}};
    out["shared_state"] = std::move(j);
}

void SharedSubsystem::summary(nlohmann::json& out) {
    if (!sharing_) return;
    out["redis"] = sharing_->up() ? sharing_->master() : std::string("down (local state)");
    out["backlog"] = sharing_->backlog();
}

void SharedSubsystem::health(std::vector<admin::HealthCheckResult>& out) {
    if (!sharing_) return;
    // Degraded, not failed: without Redis every instance still serves, with its own tables.
    if (sharing_->up()) {
        out.push_back({"shared_state", true, "connected to Redis at " + sharing_->master()});
        return;
    }
    const double down_s = static_cast<double>(wall_time_us() - sharing_->down_since_us()) / 1e6;
    out.push_back({"shared_state", true,
                   fmt::format("degraded: Redis unreachable for {:.0f}s; stick tables and rate limits are local, {} "
                               "writes waiting",
                               down_s, sharing_->backlog())});
}

} // namespace haven::runtime
