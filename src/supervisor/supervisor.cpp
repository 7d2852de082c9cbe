#include "supervisor/supervisor.hpp"

#include <algorithm>

namespace haven::supervisor {
namespace {

// haven's start-up does not wait longer than this for replicas to get ready, whatever their
// ready_timeout: listeners of other pools must not be held up by a slow service.
constexpr Duration kMaxWarmUp = std::chrono::seconds(10);

} // namespace

Supervisor::Supervisor(ReplicaEnv env) : env_(std::move(env)) {}

Supervisor::~Supervisor() { *alive_ = false; }

void Supervisor::configure(const config::Supervisor& config) {
    std::vector<std::unique_ptr<ServiceRunner>> next;
    for (const auto& s : config.services) {
        auto spec = std::make_shared<const config::Service>(s);
        auto it = std::find_if(services_.begin(), services_.end(), [&](const auto& r) { return r->spec().name == s.name; });
        if (it != services_.end()) {
            (*it)->update(std::move(spec));
            next.push_back(std::move(*it));
            services_.erase(it);
            continue;
        }
        next.push_back(std::make_unique<ServiceRunner>(env_, std::move(spec)));
        if (started_) {
            env_.events.add("service_added", s.name, "", std::to_string(s.replicas) + " replica(s)");
            next.back()->start();
        }
    }
    for (auto& gone : services_) {
        env_.events.add("service_removed", gone->spec().name, "", "stopping its replicas");
        ServiceRunner* raw = gone.get();
        removing_.push_back(std::move(gone));
        raw->stop([this, raw, alive = alive_] {
            env_.scheduler.post([this, raw, alive] {
                if (!*alive) return;
                std::erase_if(removing_, [raw](const auto& p) { return p.get() == raw; });
            });
        });
    }
    services_ = std::move(next);
}

void Supervisor::start() {
    started_ = true;
    for (auto& s : services_) s->start();
}

void Supervisor::shutdown() {
    Duration grace{};
    for (auto* list : {&services_, &removing_}) {
        for (auto& s : *list) {
            grace = std::max<Duration>(grace, s->spec().stop_grace);
            s->terminate();
        }
    }
    const auto deadline = env_.scheduler.now() + grace;
    for (auto* list : {&services_, &removing_}) {
        for (auto& s : *list) s->wait_gone(deadline);
    }
}

void Supervisor::reapply_serving() {
    for (auto& s : services_) s->reapply_serving();
}

bool Supervisor::restart(std::string_view service, std::string& error, bool& not_found) {
    not_found = false;
    for (auto& s : services_) {
        if (s->spec().name == service) return s->rolling_restart("requested", error);
    }
    not_found = true;
    error = "no service named \"" + std::string(service) + "\"";
    return false;
}

std::vector<ServiceStatus> Supervisor::status() const {
    std::vector<ServiceStatus> out;
    for (const auto& s : services_) out.push_back(s->status());
    return out;
}

bool Supervisor::settled() const {
    return std::all_of(services_.begin(), services_.end(), [](const auto& s) { return s->settled(); });
}

Duration Supervisor::warm_up_limit() const {
    Duration longest{};
    for (const auto& s : services_) longest = std::max<Duration>(longest, s->spec().ready_timeout);
    return std::min(longest, kMaxWarmUp);
}

} // namespace haven::supervisor
