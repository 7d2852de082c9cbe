// The DNS subsystem: lifecycle, health sources, and what the admin side shows (see
// dns_subsystem.hpp; metrics in docs/metrics.md, the API in docs/dns.md).
#include "runtime/dns_subsystem.hpp"

#include "dns/health_view.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace haven::runtime {
namespace {

using admin::metrics::Exposition;
using nlohmann::json;

constexpr auto kPoolPoll = std::chrono::milliseconds(100);

void counter_metrics(Exposition& e, const dns::DnsStats& s) {
    e.counter("haven_dns_queries_total", "DNS queries received, by transport.", {{"transport", "udp"}},
              static_cast<double>(s.udp_queries.get()));
    e.counter("haven_dns_queries_total", "DNS queries received, by transport.", {{"transport", "tcp"}},
              static_cast<double>(s.tcp_queries.get()));
    for (std::size_t i = 0; i < dns::kRcodeNames.size(); ++i) {
        e.counter("haven_dns_responses_total", "DNS responses, by response code.", {{"rcode", std::string(dns::kRcodeNames[i])}},
                  static_cast<double>(s.rcodes[i].get()));
    }
    for (std::size_t i = 0; i < dns::kQtypeNames.size(); ++i) {
        e.counter("haven_dns_queries_by_type_total", "DNS queries answered, by query type.",
                  {{"qtype", std::string(dns::kQtypeNames[i])}}, static_cast<double>(s.qtypes[i].get()));
    }
    e.counter("haven_dns_nodata_total", "NOERROR responses without an answer (the name exists, the type does not).", {},
              static_cast<double>(s.nodata.get()));
    e.counter("haven_dns_truncated_total", "UDP responses sent truncated (TC) because the answer did not fit.", {},
              static_cast<double>(s.truncated.get()));
    e.counter("haven_dns_dropped_total", "Packets not answered: shorter than a header, responses, oversized.", {},
              static_cast<double>(s.dropped.get()));
    e.counter("haven_dns_rrl_total", "Responses held back by response-rate limiting, by action.", {{"action", "dropped"}},
              static_cast<double>(s.rrl_dropped.get()));
    e.counter("haven_dns_rrl_total", "Responses held back by response-rate limiting, by action.", {{"action", "slipped"}},
              static_cast<double>(s.rrl_slipped.get()));
    e.gauge("haven_dns_tcp_connections", "DNS TCP connections open now.", {}, static_cast<double>(s.tcp_active.get()));
    e.counter("haven_dns_tcp_rejected_total", "DNS TCP connections closed at once: max_tcp_connections reached.", {},
              static_cast<double>(s.tcp_rejected.get()));
    e.counter("haven_dns_send_errors_total", "UDP responses the kernel did not take.", {},
              static_cast<double>(s.send_errors.get()));
}

} // namespace

DnsSubsystem::DnsSubsystem(asio::io_context& control, EventLog& events, upstream::ControlPlane& plane,
                           const config::Config& config)
    : io_(control), scheduler_(plane.scheduler()), events_(events), plane_(plane), random_(FastRandom::from_entropy()),
      regions_(scheduler_, random_, events_, dns::real_probes(control, plane.scheduler()), [this] { refresh(); }) {
    std::vector<std::string> errors;
    auto p = prepare_config(config.dns, errors);
    if (!errors.empty()) throw std::runtime_error(errors.front());
    apply(std::move(p));
}

DnsSubsystem::~DnsSubsystem() { stop(); }

DnsSubsystem::Prepared DnsSubsystem::prepare_config(const std::shared_ptr<const config::DnsConfig>& next,
                                                   std::vector<std::string>& errors) {
    Prepared p;
    p.config = next ? next : std::make_shared<const config::DnsConfig>();
    p.data = dns::ZoneData::build(*p.config);
    p.groups = dns::group_specs(*p.config, *p.data, errors);
    std::map<std::string, bool> wanted;
    if (p.config->server) {
        for (const auto& l : p.config->server->listeners) {
            wanted[l.name] = true;
            const auto it = bound_.find(l.name);
            if (it != bound_.end() && it->second.configured == l.listen.text) continue;
            std::string error;
            if (auto b = dns::bind_listener(l, error)) p.fresh.push_back(std::move(*b));
            else errors.push_back(error);
        }
    }
    for (const auto& [name, b] : bound_) {
        if (!wanted.contains(name)) p.removed.push_back(name);
    }
    return p;
}

void DnsSubsystem::prepare(const config::Config& next, std::vector<std::string>& errors) {
    pending_ = prepare_config(next.dns, errors);
}

void DnsSubsystem::commit(const std::shared_ptr<const config::Config>& next) {
    (void)next;
    if (!pending_) return;
    apply(std::move(*pending_));
    pending_.reset();
}

void DnsSubsystem::apply(Prepared p) {
    data_ = std::move(p.data);
    regions_.configure(std::move(p.groups));
    for (const auto& name : p.removed) {
        server_.remove(name);
        bound_.erase(name);
    }
    for (auto& l : p.fresh) {
        if (started_) spdlog::info("listening: dns:{} on {}", l.name, l.address);
        bound_[l.name] = Bound{l.configured, l.address};
        server_.add(std::move(l));
    }
    // A new ZoneData indexes its sets afresh: no "answers now" events for a reload, only the
    // reload's own.
    up_ = source_states();
    view_ = std::make_shared<const dns::HealthView>(dns::compute_view(*data_, up_));
    server_.publish(std::make_shared<const dns::Snapshot>(dns::Snapshot{data_, view_}));
    if (started_ && !bound_.empty()) server_.start();
}

void DnsSubsystem::start() {
    started_ = true;
    regions_.start();
    for (const auto& [name, b] : bound_) spdlog::info("listening: dns:{} on {}", name, b.address);
    if (!bound_.empty()) server_.start();
    poll_ = scheduler_.make_timer();
    arm_poll();
}

void DnsSubsystem::stop() {
    if (poll_) poll_->cancel();
    regions_.stop();
    server_.stop();
}

void DnsSubsystem::arm_poll() {
    poll_->arm(kPoolPoll, [this] {
        refresh();
        arm_poll();
    });
}

// Healthy: a region or own check that is up; a pool serving from a tier (not panicking, not
// empty); a server that is up and ready (not drained, ejected or refusing).
std::vector<bool> DnsSubsystem::source_states() {
    std::vector<bool> up;
    up.reserve(data_->sources.size());
    for (const auto& s : data_->sources) {
        bool ok = true;
        if (s.kind == config::DnsHealth::Kind::Region || s.kind == config::DnsHealth::Kind::Check) {
            ok = regions_.up(s.name).value_or(true);
        } else if (s.kind == config::DnsHealth::Kind::Pool) {
            const auto* pool = plane_.pool(s.name);
            const auto set = pool ? pool->current() : nullptr;
            ok = set && !set->eligible.empty() && set->mode != upstream::ServingMode::Panic;
        } else if (s.kind == config::DnsHealth::Kind::Server) {
            const auto slash = s.name.find('/');
            const auto* pool = plane_.pool(s.name.substr(0, slash));
            ok = false;
            for (const auto& st : pool ? pool->status() : std::vector<upstream::ServerStatus>{}) {
                if (st.name == s.name.substr(slash + 1)) ok = std::string_view(upstream::state_name(st)) == "up";
            }
        }
        up.push_back(ok);
    }
    return up;
}

// Each region's state goes to the pools' servers in it (servers[].region) as well as to the
// DNS answers: a server whose region is down leaves rotation and the pool's next tier serves.
void DnsSubsystem::push_regions_to_pools() {
    const auto region_up = [this](std::string_view name) { return regions_.up(name); };
    for (const auto& p : plane_.pools()) p->sync_regions(region_up);
}

void DnsSubsystem::refresh() {
    push_regions_to_pools();
    auto up = source_states();
    if (up == up_) return;
    auto view = std::make_shared<const dns::HealthView>(dns::compute_view(*data_, up));
    answer_changes_ += dns::record_changes(*data_, *view_, *view, up_, up, events_);
    up_ = std::move(up);
    view_ = std::move(view);
    server_.publish(std::make_shared<const dns::Snapshot>(dns::Snapshot{data_, view_}));
}

json DnsSubsystem::regions_json() const {
    json out = json::array();
    for (const auto& g : regions_.status()) {
        json endpoints = json::array();
        for (const auto& e : g.endpoints) {
            endpoints.push_back({{"name", e.name}, {"address", e.address}, {"up", e.up}, {"last_check", e.last_check},
                                 {"last_check_ms", e.last_check_ms}, {"checks", e.checks}, {"failures", e.failures}});
        }
        out.push_back({{"name", g.name}, {"kind", g.region ? "region" : "check"}, {"up", g.up},
                       {"endpoints_up", g.endpoints_up}, {"min_healthy", g.min_healthy}, {"changes", g.changes},
                       {"changed_at_us", g.changed_at_us}, {"endpoints", endpoints}});
    }
    return out;
}

json DnsSubsystem::record_sets_json() const {
    json out = json::array();
    for (std::size_t i = 0; i < data_->routed.size(); ++i) {
        const auto& set = data_->routed[i];
        const auto& view = view_->sets[i];
        json members = json::array();
        for (std::size_t k = 0; k < set.members.size(); ++k) {
            const auto& m = set.members[k];
            json values = json::array();
            for (const auto& v : m.values) values.push_back(v.text);
            const bool healthy = m.source == dns::kAlwaysHealthy || (m.source < up_.size() && up_[m.source]);
            const bool answered = std::find(view.members.begin(), view.members.end(), k) != view.members.end();
            members.push_back({{"label", m.label}, {"healthy", healthy}, {"answered", answered}, {"values", values},
                               {"health", m.source == dns::kAlwaysHealthy ? "always" : data_->sources[m.source].label}});
        }
        out.push_back({{"name", set.label}, {"routing", config::name_of(set.routing)}, {"answers_now", dns::answers_text(set, view)},
                       {"all_unhealthy", view.all_unhealthy}, {"members", members}});
    }
    return out;
}

bool DnsSubsystem::handle(const admin::Request& r, const std::vector<std::string>& path, admin::Response& out) {
    if (r.method != "GET") {
        out = admin::Response::error(405, "the DNS API is read-only: use GET /api/dns");
        return true;
    }
    if (path.empty()) {
        json j;
        status(j);
        out = admin::Response::json(200, j["dns"].dump(2) + "\n");
        return true;
    }
    if (path.size() == 1 && (path[0] == "regions" || path[0] == "record_sets")) {
        out = admin::Response::json(200, (path[0] == "regions" ? regions_json() : record_sets_json()).dump(2) + "\n");
        return true;
    }
    out = admin::Response::error(404, "no such path: " + r.path + " (GET /api/dns, /api/dns/regions, /api/dns/record_sets)");
    return true;
}

void DnsSubsystem::status(json& out) {
    json listeners = json::array();
    for (const auto& [name, b] : bound_) listeners.push_back({{"name", name}, {"address", b.address}});
    json zones = json::array();
    for (const auto& z : data_->zones) {
        zones.push_back({{"name", z.name}, {"serial", z.serial}, {"record_sets", z.record_sets}});
    }
    const auto& s = server_.stats();
    out["dns"] = {{"listeners", listeners},
                  {"zones", zones},
                  {"regions", regions_json()},
                  {"record_sets", record_sets_json()},
                  {"answer_changes", answer_changes_},
                  {"queries", {{"udp", s.udp_queries.get()}, {"tcp", s.tcp_queries.get()}}},
                  {"rrl", {{"dropped", s.rrl_dropped.get()}, {"slipped", s.rrl_slipped.get()}}}};
}

void DnsSubsystem::summary(json& out) {
    std::size_t regions_up = 0, regions = 0, all_unhealthy = 0;
    for (const auto& g : regions_.status()) {
        if (!g.region) continue;
        ++regions;
        regions_up += g.up ? 1 : 0;
    }
    for (const auto& v : view_->sets) all_unhealthy += v.all_unhealthy ? 1 : 0;
    out["listeners"] = bound_.size();
    out["zones"] = data_->zones.size();
    out["regions_up"] = fmt::format("{} of {}", regions_up, regions);
    out["record_sets_all_unhealthy"] = all_unhealthy;
    out["queries"] = server_.stats().udp_queries.get() + server_.stats().tcp_queries.get();
}

void DnsSubsystem::health(std::vector<admin::HealthCheckResult>& out) {
    for (const auto& g : regions_.status()) {
        if (!g.region) continue;
        out.push_back({"region:" + g.name, g.up, fmt::format("{} of {} endpoints up (needs {})", g.endpoints_up,
                                                             g.endpoints.size(), g.min_healthy)});
    }
    for (std::size_t i = 0; i < data_->routed.size(); ++i) {
        if (!view_->sets[i].all_unhealthy) continue;
        out.push_back({"dns:" + data_->routed[i].label, false, "no member healthy; answering as if all were"});
    }
}

void DnsSubsystem::metrics(Exposition& e) {
    if (bound_.empty() && data_->regions.empty()) return;
    counter_metrics(e, server_.stats());
    for (const auto& g : regions_.status()) {
        if (!g.region) continue;
        e.gauge("haven_region_up", "1 while the region has at least min_healthy endpoints up.", {{"region", g.name}}, g.up ? 1 : 0);
        e.gauge("haven_region_endpoints_up", "Endpoints of the region passing their health checks.", {{"region", g.name}},
                g.endpoints_up);
        e.counter("haven_region_changes_total", "Times the region went down or up.", {{"region", g.name}},
                  static_cast<double>(g.changes));
    }
    for (std::size_t i = 0; i < data_->routed.size(); ++i) {
        const auto& set = data_->routed[i];
        const auto space = set.label.rfind(' ');
        const admin::metrics::Labels l{{"name", set.label.substr(0, space)}, {"type", set.label.substr(space + 1)}};
        e.gauge("haven_dns_record_set_answered_members", "Members of a routed record set answered now.", l,
                static_cast<double>(view_->sets[i].members.size()));
        e.gauge("haven_dns_record_set_all_unhealthy", "1 when no member of the set is healthy (answered as if all were).", l,
                view_->sets[i].all_unhealthy ? 1 : 0);
    }
    e.counter("haven_dns_answer_changes_total", "Times a routed record set's answer changed with health.", {},
              static_cast<double>(answer_changes_));
    for (const auto& z : data_->zones) {
        e.gauge("haven_dns_zone_serial", "The SOA serial of each zone served.", {{"zone", z.name}}, z.serial);
    }
}

} // namespace haven::runtime
