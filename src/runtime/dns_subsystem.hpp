// The DNS server as a subsystem (docs/dns.md): it compiles `dns:` into zones, runs the regions'
// checks (dns::RegionSet) on the control thread, follows the pools' and servers' health that
// record sets name, and publishes a new snapshot to the DNS thread (dns::Server) whenever any of
// it changes — at once for a region or an own check, within 100 ms for a pool or server (it
// reads the control plane's state on a 100 ms tick). A reload compiles the new zones and binds
// new listeners in prepare() and swaps them in commit(); a bad zone never gets that far (the
// loader refuses the file). The admin side shows its counters, regions and record sets, and
// serves GET /api/dns.
#pragma once

#include "config/dns_schema.hpp"
#include "core/event_log.hpp"
#include "core/random.hpp"
#include "dns/regions.hpp"
#include "dns/server.hpp"
#include "runtime/subsystem.hpp"
#include "upstream/control_plane.hpp"

#include <map>
#include <optional>

namespace haven::runtime {

class DnsSubsystem final : public Subsystem {
public:
    // Binds the configured listeners; throws std::runtime_error naming one that cannot bind or a
    // region endpoint that does not resolve.
    DnsSubsystem(asio::io_context& control, EventLog& events, upstream::ControlPlane& plane, const config::Config& config);
    ~DnsSubsystem() override;

    // Subsystem
    void prepare(const config::Config& next, std::vector<std::string>& errors) override;
    void commit(const std::shared_ptr<const config::Config>& next) override;
    void abort() override { pending_.reset(); }
    void start() override;
    void stop() override;

    // admin::Section
    std::string name() const override { return "dns"; }
    void metrics(admin::metrics::Exposition& out) override;
    void status(nlohmann::json& out) override;
    void summary(nlohmann::json& out) override;
    void health(std::vector<admin::HealthCheckResult>& out) override;
    bool ready() const override { return regions_.first_round_done(); }
    bool handle(const admin::Request& r, const std::vector<std::string>& path, admin::Response& out) override;

private:
    struct Prepared {
        std::shared_ptr<const config::DnsConfig> config;
        std::shared_ptr<const dns::ZoneData> data;
        std::vector<dns::GroupSpec> groups;
        std::vector<dns::BoundListener> fresh;
        std::vector<std::string> removed;
    };
    struct Bound {
        std::string configured; // listen: as written
        std::string address;    // as bound
    };
    Prepared prepare_config(const std::shared_ptr<const config::DnsConfig>& next, std::vector<std::string>& errors);
    void apply(Prepared p);
    void refresh();
    void push_regions_to_pools();
    std::vector<bool> source_states();
    void arm_poll();
    nlohmann::json record_sets_json() const;
    nlohmann::json regions_json() const;

    asio::io_context& io_;
    Scheduler& scheduler_;
    EventLog& events_;
    upstream::ControlPlane& plane_;
    FastRandom random_;
    dns::RegionSet regions_;
    dns::Server server_;
    std::shared_ptr<const dns::ZoneData> data_;
    std::shared_ptr<const dns::HealthView> view_;
    std::vector<bool> up_;
    std::map<std::string, Bound> bound_;
    std::optional<Prepared> pending_;
    std::unique_ptr<Timer> poll_;
    std::uint64_t answer_changes_ = 0;
    bool started_ = false;
};

} // namespace haven::runtime
