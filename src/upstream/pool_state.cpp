#include "upstream/pool_state.hpp"
#include "upstream/pool_server.hpp"

#include "upstream/circuit/breaker_config.hpp"
#include "upstream/health/from_config.hpp"
#include "upstream/health/role.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace haven::upstream {

namespace {

AdminState admin_of(config::AdminState s) {
    switch (s) {
    case config::AdminState::Ready: return AdminState::Ready;
    case config::AdminState::Drain: return AdminState::Drain;
    case config::AdminState::Maint: return AdminState::Maint;
    }
    return AdminState::Ready;
}

const char* admin_name(AdminState s) {
    switch (s) {
    case AdminState::Ready: return "ready";
    case AdminState::Drain: return "drain";
    case AdminState::Maint: return "maint";
    }
    return "?";
}

OutlierParams outlier_params(const config::OutlierDetection& o) {
    OutlierParams p;
    p.consecutive_failures = o.consecutive_failures;
    p.base_ejection = std::chrono::duration_cast<Duration>(o.base_ejection);
    p.max_ejection = std::chrono::duration_cast<Duration>(o.max_ejection);
    p.max_ejected_percent = o.max_ejected_percent;
    return p;
}

std::uint16_t probe_port(const config::HealthCheck& h, const config::Server& s, std::uint16_t server_port) {
    if (s.health_check && s.health_check->port) return *s.health_check->port;
    return h.port ? h.port : server_port;
}

// Usable hosts that are not serving, lowest tier first (then config order).
std::vector<HostIndex> retry_fallback(const std::vector<HostView>& v, const std::vector<LbEntry>& eligible) {
    std::vector<HostIndex> out;
    for (HostIndex h = 0; h < v.size(); ++h) {
        const bool usable = v[h].admin == AdminState::Ready && v[h].health == HealthStatus::Up && !v[h].ejected &&
                            !v[h].refused && v[h].weight > 0;
        bool serving = false;
        for (const auto& e : eligible) serving = serving || e.host == h;
        if (usable && !serving) out.push_back(h);
    }
    std::stable_sort(out.begin(), out.end(), [&](HostIndex a, HostIndex b) { return v[a].priority < v[b].priority; });
    return out;
}

std::string serving_text(std::int64_t tier, ServingMode mode) {
    switch (mode) {
    case ServingMode::None: return "no server available";
    case ServingMode::Panic: return "panic: all servers";
    case ServingMode::Degraded: return fmt::format("tier {} (below min_healthy)", tier);
    case ServingMode::Normal: return fmt::format("tier {}", tier);
    }
    return "?";
}

} // namespace

const char* state_name(const ServerStatus& s) {
    if (s.admin == AdminState::Maint) return "maint";
    if (s.admin == AdminState::Drain) return "drain";
    if (s.ejected) return "ejected";
    if (s.health == HealthStatus::Down) return "down";
    if (s.refused) return "refused";
    if (s.region_down) return "region down";
    return "up";
}

PoolState::PoolState(ControlEnv& env, const config::Pool& pool, std::uint32_t pool_id)
    : env_(env), config_(pool), outliers_(outlier_params(pool.outlier_detection), pool.servers.size()) {
    std::string error;
    auto base = describe_pool(pool, pool_id, env_.workers, error);
    if (!base) throw std::runtime_error(error);
    base_ = std::move(*base);
    build_servers(pool, {});
    configure_breaker(pool);
    configure_sticky(pool);
    republish(env_.scheduler.now());
}

PoolState::~PoolState() {
    for (auto& s : servers_) {
        if (s->checker) s->checker->stop();
        if (s->refusal_check) s->refusal_check->stop();
    }
}

// Servers from `pool`; those in `keep` with the same name and address carry over their state.
void PoolState::build_servers(const config::Pool& pool, std::vector<std::unique_ptr<Server>> keep) {
    servers_.clear();
    for (std::size_t i = 0; i < pool.servers.size(); ++i) {
        const auto& cfg = pool.servers[i];
        HostInfo& info = base_.hosts[i];
        std::unique_ptr<Server> s;
        for (auto& k : keep) {
            if (k && k->cfg.name == cfg.name && k->info.endpoint == info.endpoint) {
                s = std::move(k);
                break;
            }
        }
        if (s) {
            info.signals = s->info.signals; // workers keep counting into the same objects
            info.metrics = s->info.metrics;
            if (cfg.state != s->cfg.state) s->admin = admin_of(cfg.state);
            if (cfg.region != s->cfg.region) s->region_down = false; // the DNS subsystem tells the new region's state
        } else {
            s = std::make_unique<Server>();
            s->admin = admin_of(cfg.state);
            const bool checked = pool.health_check.has_value();
            const bool starts_down = checked && pool.health_check->initial == config::InitialHealth::Down;
            s->health = starts_down ? HealthStatus::Down : HealthStatus::Up;
            s->up_since = TimePoint{}; // servers up at start do not ramp
        }
        s->cfg = cfg;
        s->info = info;
        s->weight = cfg.weight;
        servers_.push_back(std::move(s));
    }
}

void PoolState::start() {
    started_ = true;
    for (auto& s : servers_) {
        if (!s->checker) start_checker(*s);
    }
}

void PoolState::start_checker(Server& s, bool recheck) {
    if (!config_.health_check) return;
    const auto& h = *config_.health_check;
    auto target = s.info.endpoint;
    target.port(probe_port(h, s.cfg, target.port()));
    const auto params = health_params(h);
    std::unique_ptr<Probe> probe = make_probe(s, target);
    Server* sp = &s;
    // A server with no result yet is checked at once (before haven accepts connections, or as
    // soon as a reload adds it); with `initial: check` that first result sets its state. So is a
    // server `recheck` puts back in service (set_admin).
    const bool unknown = s.checks == 0 || recheck;
    const bool first_decides = unknown && h.initial == config::InitialHealth::Check;
    s.checker = std::make_unique<HealthChecker>(env_.scheduler, env_.random, std::move(probe), params, s.health,
                                                [this, sp](const HealthReport& r) { on_report(*sp, r); }, first_decides);
    if (config_.role != config::PoolRole::Any) s.checker->set_judge([this](ProbeResult& r) { judge(r); });
    s.checker->start(unknown ? HealthChecker::FirstProbe::Now : HealthChecker::FirstProbe::Spread);
}

void PoolState::reconfigure(const config::Pool& pool, std::uint32_t pool_id) {
    std::string error;
    auto base = describe_pool(pool, pool_id, env_.workers, error);
    if (!base) throw std::runtime_error(error);
    configure_breaker(pool); // before config_ changes: it compares the settings
    configure_sticky(pool);
    config_ = pool;
    base_ = std::move(*base);
    auto old = std::move(servers_);
    build_servers(pool, std::move(old));
    outliers_.set_params(outlier_params(pool.outlier_detection));
    outliers_.resize(servers_.size());
    // Without checks every server is up (as at start): a server its removed checks had marked
    // down would otherwise stay down with nothing left to bring it back.
    if (!pool.health_check) {
        for (auto& s : servers_) {
            if (s->health == HealthStatus::Up) continue;
            s->health = HealthStatus::Up;
            s->up_since = env_.scheduler.now();
            env_.events.add("server_up", config_.name, s->cfg.name, "health checks removed");
        }
    }
    // Checkers restart with the new settings; each starts from its server's current health, so
    // nothing flips because of the reload itself.
    for (auto& s : servers_) {
        s->checker.reset();
        s->refusal_check.reset();
    }
    if (started_) {
        for (auto& s : servers_) start_checker(*s);
        for (auto& s : servers_) {
            if (s->refused) confirm_refusal(*s);
        }
    }
    republish(env_.scheduler.now());
}

void PoolState::on_report(Server& s, const HealthReport& r) {
    ++s.checks;
    const bool role_news = note_role(s, r.result);
    if (!r.result.ok) ++s.check_failures;
    s.last_check = r.result.reason;
    s.last_check_ms = to_ms(r.result.took);
    s.last_check_time_us = wall_time_us();
    bool changed = role_news;
    if (r.transition == HealthTransition::Changed) {
        s.changed_once = true;
        s.health = r.status;
        if (r.status == HealthStatus::Up) s.up_since = r.at;
        env_.events.add(r.status == HealthStatus::Up ? "server_up" : "server_down", config_.name, s.cfg.name,
                        r.result.reason);
        changed = true;
    }
    // A passing check answers refusals, and ends an ejection that connect failures caused; an
    // ejection for bad responses runs its time (the server answers its health path anyway).
    if (r.result.ok && s.refused) {
        clear_refusal(s, "active check passed");
        changed = true;
    }
    if (r.result.ok && end_connection_ejection(s, r.at, "active check passed")) changed = true;
    if (changed) republish(r.at);
}

HostIndex PoolState::index_of(const Server& s) const {
    HostIndex h = 0;
    while (h < servers_.size() && servers_[h].get() != &s) ++h;
    return h;
}

bool PoolState::take_refusals() {
    bool changed = false;
    for (auto& sp : servers_) {
        Server& s = *sp;
        const auto seen = s.info.signals->refusals.load(std::memory_order_relaxed);
        if (seen == s.refusals_seen) continue;
        s.refusals_seen = seen;
        if (s.refused) continue; // the check already asked will answer these too
        s.refused = true;
        ++s.refusals_total;
        env_.events.add("refused", config_.name, s.cfg.name,
                        "connection refused on live traffic; out of rotation until a check passes");
        changed = true;
        confirm_refusal(s);
    }
    return changed;
}

void PoolState::confirm_refusal(Server& s) {
    if (s.checker) {
        s.checker->check_now();
        return;
    }
    if (!started_ || s.refusal_check) return;
    // A pool without checks still needs an answer: connect every second until it succeeds.
    HealthParams params;
    params.interval = params.fast_interval = params.down_interval = std::chrono::seconds(1);
    params.timeout = std::chrono::seconds(1);
    params.rise = params.fall = 1;
    params.jitter = 0;
    std::unique_ptr<Probe> probe;
    if (env_.make_probe) {
        config::HealthCheck tcp;
        tcp.kind = config::HealthCheck::Kind::Tcp;
        probe = env_.make_probe(tcp, s.cfg, s.info.endpoint);
    } else {
        probe = make_tcp_probe(env_.io, s.info.endpoint, params.timeout, env_.scheduler);
    }
    Server* sp = &s;
    s.refusal_check = std::make_unique<HealthChecker>(
        env_.scheduler, env_.random, std::move(probe), params, HealthStatus::Down, [this, sp](const HealthReport& r) {
            if (!r.result.ok) return;
            clear_refusal(*sp, "connect check passed");
            end_connection_ejection(*sp, r.at, "connect check passed"); // the same evidence
            republish(r.at);
            sp->refusal_check.reset(); // allowed from its own listener (checker.hpp)
        });
    s.refusal_check->start(HealthChecker::FirstProbe::Now);
}

// An ejection that connect failures caused ends when a check connects again (an ejection for bad
// responses runs its time: the server answers its health path anyway).
bool PoolState::end_connection_ejection(Server& s, TimePoint at, std::string_view why) {
    const HostIndex h = index_of(s);
    if (h >= servers_.size() || s.eject_cause != EjectCause::Connection || !outliers_.on_check_success(h, at)) {
        return false;
    }
    env_.events.add("returned", config_.name, s.cfg.name, std::string(why));
    return true;
}

void PoolState::clear_refusal(Server& s, std::string_view why) {
    s.refused = false;
    s.refusals_cleared = s.refusals_seen;
    env_.events.add("refusal_cleared", config_.name, s.cfg.name, std::string(why));
}

void PoolState::tick(TimePoint now) {
    tick_breaker(now);
    bool changed = take_refusals();
    const auto threshold = outliers_.params().consecutive_failures;
    for (HostIndex h = 0; threshold > 0 && h < servers_.size(); ++h) {
        auto& signals = *servers_[h]->info.signals;
        const auto failures = signals.consecutive_failures.load(std::memory_order_relaxed);
        if (failures < threshold) continue;
        const auto responses = signals.consecutive_responses.load(std::memory_order_relaxed);
        signals.consecutive_failures.store(0, std::memory_order_relaxed);
        signals.consecutive_responses.store(0, std::memory_order_relaxed);
        const auto decision = outliers_.on_failures(h, now);
        if (decision == EjectDecision::Ejected) {
            auto& s = *servers_[h];
            ++s.ejections_total;
            s.eject_cause = responses > 0 ? EjectCause::Response : EjectCause::Connection;
            const bool early = s.eject_cause == EjectCause::Connection && (s.checker || s.refused);
            env_.events.add("ejected", config_.name, s.cfg.name,
                            fmt::format("{} consecutive failures ({} 5xx); ejected for {:.0f}s{}", failures, responses,
                                        to_seconds(outliers_.ejected_until(h) - now),
                                        early ? " or until an active check passes" : ""));
            changed = true;
        } else if (decision == EjectDecision::CapReached) {
            env_.events.add("ejection_refused", config_.name, servers_[h]->cfg.name,
                            fmt::format("{} consecutive failures; max_ejected_percent reached", failures));
        }
    }
    for (HostIndex h : outliers_.sweep(now)) {
        env_.events.add("returned", config_.name, servers_[h]->cfg.name, "ejection time passed");
        changed = true;
    }
    if (changed || ramping_) republish(now);
}

std::vector<HostView> PoolState::views(TimePoint now) const {
    std::vector<HostView> out;
    out.reserve(servers_.size());
    const auto ramp = std::chrono::duration_cast<Duration>(config_.slow_start);
    for (HostIndex h = 0; h < servers_.size(); ++h) {
        const auto& s = *servers_[h];
        HostView v;
        v.health = s.health;
        v.admin = s.admin;
        v.ejected = outliers_.ejected(h);
        v.refused = s.refused;
        v.region_down = s.region_down;
        v.backup = s.cfg.backup;
        v.priority = s.cfg.tier();
        v.weight = effective_weight(s.weight, s.up_since, now, ramp);
        out.push_back(v);
    }
    return out;
}

void PoolState::republish(TimePoint now) {
    ServingPolicy policy;
    policy.min_healthy = config_.min_healthy;
    policy.all_backups = config_.all_backups;
    policy.on_all_down = config_.on_all_down == config::OnAllDown::TryAll ? OnAllDown::TryAll : OnAllDown::Fail;
    auto v = views(now);
    apply_roles(v);
    Serving serving = select_serving(v, policy);
    const auto ramp = std::chrono::duration_cast<Duration>(config_.slow_start);
    ramping_ = false;
    for (const auto& s : servers_) ramping_ = ramping_ || (ramp > Duration::zero() && s->up_since + ramp > now);

    // Tier changes while servers are still leaving their initial state (start-up, or servers a
    // reload added), or before the pool ever served, are not failovers.
    if (ever_served_ && settled() && (serving.tier != tier_ || serving.mode != mode_)) {
        ++failovers_;
        env_.events.add("failover", config_.name, "",
                        serving_text(tier_, mode_) + " -> " + serving_text(serving.tier, serving.mode));
    }
    tier_ = serving.tier;
    mode_ = serving.mode;
    ever_served_ = ever_served_ || (mode_ != ServingMode::None && settled());
    auto set = std::make_shared<HostSet>(base_);
    for (HostIndex h = 0; h < servers_.size(); ++h) {
        set->hosts[h].weight = servers_[h]->weight;
        set->hosts[h].refusals_cleared = servers_[h]->refusals_cleared;
    }
    set->shut = shut_hosts(v);
    set->fallback = retry_fallback(v, serving.eligible);
    set->eligible = std::move(serving.eligible);
    set->tier = serving.tier;
    set->mode = serving.mode;
    set->caps = caps_;
    set->slots = slots_;
    set->queue_timeout = config_.queue.timeout;
    set->sticky = sticky_;
    if (sticky_) {
        set->sticky_ok.resize(v.size());
        for (std::size_t h = 0; h < v.size(); ++h) set->sticky_ok[h] = sticky_usable(v[h]) ? 1 : 0;
    }
    if (gate_) {
        set->breaker = gate_;
        set->breaker_probes = config_.circuit_breaker->half_open_requests;
        set->breaker_failure_on = breaker_failure_bits(*config_.circuit_breaker);
        set->breaker_slow_call = std::chrono::duration_cast<Duration>(config_.circuit_breaker->slow_call);
    }
    current_ = set;
    env_.publish(set);
}

PoolState::Server* PoolState::find(std::string_view name) {
    for (auto& s : servers_) {
        if (s->cfg.name == name) return s.get();
    }
    return nullptr;
}

void PoolState::set_region(std::string_view region, bool up, std::string_view why) {
    bool changed = false;
    for (auto& s : servers_) {
        if (s->cfg.region != region || s->region_down == !up) continue;
        s->region_down = !up;
        changed = true;
        env_.events.add(up ? "region_server_up" : "region_server_down", config_.name, s->cfg.name, std::string(why));
    }
    if (changed) republish(env_.scheduler.now());
}

void PoolState::sync_regions(const std::function<std::optional<bool>(std::string_view)>& region_up) {
    for (const auto& s : servers_) {
        if (s->cfg.region.empty()) continue;
        const bool up = region_up(s->cfg.region).value_or(true);
        if (s->region_down == !up) continue;
        const std::string region = s->cfg.region; // set_region may not outlive s's string otherwise
        set_region(region, up, "region " + region + (up ? " up" : " down"));
    }
}

bool PoolState::set_admin(std::string_view server, AdminState state, std::string_view why) {
    Server* s = find(server);
    if (!s) return false;
    if (s->admin == state) return true;
    s->admin = state;
    const auto now = env_.scheduler.now();
    if (state == AdminState::Ready && s->health == HealthStatus::Up) s->up_since = now; // ramp back in
    // Rules: a server put back in service while its checks say down (a supervised replica whose
    // readiness probe now passes, checked down while it was still starting; an operator's
    // enable) is checked at once and, with `initial: check`, that result decides, as at start;
    // until it comes it counts as up. Otherwise it would wait `rise` checks at down_interval.
    if (state == AdminState::Ready && s->health == HealthStatus::Down && s->checker && config_.health_check &&
        config_.health_check->initial == config::InitialHealth::Check) {
        s->health = HealthStatus::Up;
        s->up_since = now;
        env_.events.add("server_up", config_.name, s->cfg.name, "back in service: counted up until its check, run now");
        s->checker.reset();
        start_checker(*s, true);
    }
    env_.events.add(fmt::format("admin_{}", admin_name(state)), config_.name, s->cfg.name, std::string(why));
    republish(now);
    return true;
}

bool PoolState::probe_passed(std::string_view server, std::string_view why) {
    Server* s = find(server);
    const auto now = env_.scheduler.now();
    if (!s || !end_connection_ejection(*s, now, why)) return false;
    republish(now);
    return true;
}

bool PoolState::set_weight(std::string_view server, std::uint32_t weight) {
    Server* s = find(server);
    if (!s) return false;
    if (s->weight == weight) return true;
    env_.events.add("weight", config_.name, s->cfg.name, fmt::format("{} -> {}", s->weight, weight));
    s->weight = weight;
    republish(env_.scheduler.now());
    return true;
}

std::vector<ServerStatus> PoolState::status() const {
    std::vector<ServerStatus> out;
    const auto now = env_.scheduler.now();
    const auto v = views(now);
    for (HostIndex h = 0; h < servers_.size(); ++h) {
        const auto& s = *servers_[h];
        ServerStatus st;
        st.name = s.cfg.name;
        st.address = s.info.address_text;
        st.health = s.health;
        st.admin = s.admin;
        st.ejected = outliers_.ejected(h);
        st.refused = s.refused;
        st.region_down = s.region_down;
        st.refusals_total = s.refusals_total;
        st.role = role_name(s.role);
        st.lag_seconds = s.lag_seconds;
        st.checked = s.checker != nullptr;
        st.weight = s.weight;
        st.effective_weight = v[h].weight;
        st.priority = s.cfg.tier();
        st.last_check = s.last_check;
        st.last_check_ms = s.last_check_ms;
        st.last_check_time_us = s.last_check_time_us;
        st.checks = s.checks;
        st.check_failures = s.check_failures;
        st.ejections = outliers_.ejection_count(h);
        st.ejections_total = s.ejections_total;
        if (current_) {
            for (const auto& e : current_->eligible) st.serving = st.serving || e.host == h;
        }
        out.push_back(std::move(st));
    }
    return out;
}

// Whether a change of the serving tier now is a failover rather than the pool settling at start.
// `initial: up` servers serve from the first request, so any move away from them is a real one:
// settled at once. `initial: check`: once every checked server has its first result. `initial:
// down`: servers come up in whatever order their checks pass, which is not a failover; settled
// once each has changed state or had max(rise, fall) results.
bool PoolState::settled() const {
    if (!config_.health_check) return true;
    const auto& h = *config_.health_check;
    if (h.initial == config::InitialHealth::Up) return true;
    const auto enough = h.initial == config::InitialHealth::Check ? 1u : std::max(h.rise, h.fall);
    for (const auto& s : servers_) {
        if (s->checker && !s->changed_once && s->checks < enough) return false;
    }
    return true;
}

bool PoolState::first_round_done() const {
    for (const auto& s : servers_) {
        if (s->checker && s->checks == 0) return false;
    }
    return true;
}

} // namespace haven::upstream
