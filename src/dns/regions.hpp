// RegionSet: the health of `regions:` (and of record members with a health_check of their own),
// on the control thread. Each endpoint is checked by the pools' HealthChecker with the same
// probes and rise/fall hysteresis; a group is up while at least `min_healthy` of its endpoints
// are. Every change of an endpoint or a group is an event (region_endpoint_down/up,
// region_down/up, dns_check_down/up) and calls `on_change`, which rebuilds the DNS answers at
// once: the answer follows a region within its checks' detection time.
#pragma once

#include "config/dns_schema.hpp"
#include "core/event_log.hpp"
#include "core/random.hpp"
#include "core/scheduler.hpp"
#include "dns/zone_data.hpp"
#include "upstream/health/checker.hpp"
#include "upstream/health/probe.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::dns {

// One group of endpoints under one check.
struct GroupSpec {
    struct Endpoint {
        std::string name;
        std::string address;              // as configured
        asio::ip::tcp::endpoint target;   // resolved, with the check's port if it sets one
    };
    std::string name;   // "eu"; for a member's own check, its HealthSource name
    bool region = true; // false: a member's own check
    std::vector<Endpoint> endpoints;
    config::HealthCheck check;
    std::uint32_t min_healthy = 1;
};

// The groups a configuration needs: its regions, then its members' own checks. Names that do
// not resolve are added to `errors` (and their groups left out).
std::vector<GroupSpec> group_specs(const config::DnsConfig& config, const ZoneData& data, std::vector<std::string>& errors);

using ProbeFactory =
    std::function<std::unique_ptr<upstream::Probe>(const config::HealthCheck& check, const asio::ip::tcp::endpoint& target)>;
// Real TCP and HTTP probes on `io`, timed by `clock`.
ProbeFactory real_probes(asio::io_context& io, const Clock& clock);

struct EndpointStatus {
    std::string name;
    std::string address;
    bool up = true;
    std::string last_check; // "ok", "timeout", "status 503", ... ("" before the first)
    double last_check_ms = 0;
    std::uint64_t checks = 0;
    std::uint64_t failures = 0;
};

struct GroupStatus {
    std::string name;
    bool region = true;
    bool up = true;
    std::uint32_t endpoints_up = 0;
    std::uint32_t min_healthy = 1;
    std::uint64_t changes = 0;     // times the group went down or up
    std::int64_t changed_at_us = 0; // wall time of the last change (0: never)
    std::vector<EndpointStatus> endpoints;
};

class RegionSet {
public:
    using OnChange = std::function<void()>;
    RegionSet(Scheduler& scheduler, Random& random, EventLog& events, ProbeFactory make_probe, OnChange on_change);
    ~RegionSet();
    RegionSet(const RegionSet&) = delete;
    RegionSet& operator=(const RegionSet&) = delete;

    // Replaces the groups. An endpoint whose group, name and address are unchanged keeps its
    // health (its checker restarts with the new check); new endpoints are checked at once when
    // running.
    void configure(std::vector<GroupSpec> specs);
    void start();
    void stop();

    // Whether the group is up; nullopt for an unknown group.
    std::optional<bool> up(std::string_view name) const;
    std::vector<GroupStatus> status() const;
    // Every endpoint whose first result decides its health has had it.
    bool first_round_done() const;

private:
    struct Endpoint;
    struct Group;
    void start_checker(Group& g, Endpoint& e, bool now);
    void on_report(Group& g, Endpoint& e, const upstream::HealthReport& r);
    void update_group(Group& g, const std::string& why);
    static std::uint32_t count_up(const std::vector<std::unique_ptr<Endpoint>>& endpoints);

    Scheduler& scheduler_;
    Random& random_;
    EventLog& events_;
    ProbeFactory make_probe_;
    OnChange on_change_;
    std::vector<std::unique_ptr<Group>> groups_;
    bool running_ = false;
};

} // namespace haven::dns
