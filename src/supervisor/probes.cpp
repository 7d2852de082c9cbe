#include "supervisor/probes.hpp"

#include "net/address.hpp"
#include "supervisor/exec_probe.hpp"
#include "supervisor/replica.hpp"

namespace haven::supervisor {
namespace {

// A probe whose target cannot be resolved: every check fails with the reason.
class UnresolvedProbe final : public upstream::Probe {
public:
    UnresolvedProbe(Scheduler& scheduler, std::string why) : scheduler_(scheduler), why_(std::move(why)) {}
    ~UnresolvedProbe() override { *alive_ = false; }
    void start(std::function<void(upstream::ProbeResult)> done) override {
        scheduler_.post([done = std::move(done), why = why_, alive = alive_] {
            if (*alive) done(upstream::ProbeResult{false, why, {}, 0});
        });
    }

private:
    Scheduler& scheduler_;
    std::string why_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

upstream::HttpProbeSpec http_spec(const config::ServiceProbe& p) {
    upstream::HttpProbeSpec spec;
    spec.path = p.path;
    spec.host = p.host;
    spec.expect_status.clear();
    for (const auto& [lo, hi] : p.expect_status) spec.expect_status.push_back({lo, hi});
    return spec;
}

SpawnSpec exec_spec(const config::Service& s, const config::ServiceProbe& p, const config::ReplicaVars& vars,
                    const std::vector<std::string>& base_env) {
    SpawnSpec spec;
    spec.name = vars.name + " probe";
    spec.path = p.command.front(); // resolved when the config was loaded
    for (const auto& arg : p.command) {
        std::string error;
        spec.argv.push_back(config::expand_placeholders(arg, vars, error).value_or(arg));
    }
    spec.env = replica_environment(base_env, s, vars);
    spec.cwd = s.cwd;
    if (!s.user.empty()) spec.user = std::pair<uid_t, gid_t>(s.uid, s.gid);
    spec.capture_output = false;
    return spec;
}

} // namespace

ProbeFactory make_probe_factory(asio::io_context& io, Scheduler& scheduler, Launcher& launcher,
                                std::vector<std::string> base_env) {
    return [&io, &scheduler, &launcher, base_env = std::move(base_env)](
               const config::Service& s, const config::ServiceProbe& p,
               const config::ReplicaVars& vars) -> std::unique_ptr<upstream::Probe> {
        const Duration timeout = p.timeout;
        if (p.kind == config::ServiceProbe::Kind::Exec) {
            return make_exec_probe(launcher, scheduler, exec_spec(s, p, vars, base_env), timeout);
        }
        const std::uint16_t port = p.port ? p.port : vars.port.value_or(0);
        const config::Endpoint ep{vars.host + ":" + std::to_string(port), vars.host, port};
        std::string error;
        const auto target = net::resolve(ep, error);
        if (!target) return std::make_unique<UnresolvedProbe>(scheduler, error);
        if (p.kind == config::ServiceProbe::Kind::Tcp) return upstream::make_tcp_probe(io, *target, timeout, scheduler);
        return upstream::make_http_probe(io, *target, http_spec(p), timeout, scheduler);
    };
}

} // namespace haven::supervisor
