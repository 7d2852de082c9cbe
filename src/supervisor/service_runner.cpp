#include "supervisor/service_runner.hpp"

#include <fmt/format.h>

namespace haven::supervisor {
namespace {

// Whether two definitions run the same processes. Everything counts but the number of replicas
// and the ports of replicas other than the one compared.
bool same_process(const config::Service& a, const config::Service& b, std::size_t index) {
    const auto port = [index](const config::Service& s) { return index < s.ports.size() ? s.ports[index] : 0; };
    if (port(a) != port(b)) return false;
    config::Service x = a, y = b;
    x.replicas = y.replicas = 0;
    x.ports.clear();
    y.ports.clear();
    return x == y;
}

} // namespace

ServiceRunner::ServiceRunner(ReplicaEnv& env, std::shared_ptr<const config::Service> spec)
    : env_(env), spec_(std::move(spec)) {
    for (std::uint32_t i = 0; i < spec_->replicas; ++i) replicas_.push_back(std::make_unique<Replica>(env_, spec_, i));
}

ServiceRunner::~ServiceRunner() { *alive_ = false; }

void ServiceRunner::event(const char* kind, std::string detail) { env_.events.add(kind, spec_->name, "", std::move(detail)); }

void ServiceRunner::start() {
    started_ = true;
    for (auto& r : replicas_) r->start();
}

bool ServiceRunner::needs_replace(std::size_t i) const { return !same_process(replicas_[i]->spec(), *spec_, i); }

void ServiceRunner::update(std::shared_ptr<const config::Service> spec) {
    spec_ = std::move(spec);
    while (replicas_.size() > spec_->replicas) {
        auto r = std::move(replicas_.back());
        replicas_.pop_back();
        retire(std::move(r));
    }
    for (auto i = static_cast<std::uint32_t>(replicas_.size()); i < spec_->replicas; ++i) {
        replicas_.push_back(std::make_unique<Replica>(env_, spec_, i));
        if (started_) replicas_.back()->start();
    }
    bool stale = false;
    for (std::size_t i = 0; i < replicas_.size(); ++i) stale = stale || needs_replace(i);
    // A roll in progress takes the newest definition for the replicas it has yet to reach, and
    // goes round again at its end for those it replaced with an older one.
    if (stale && started_ && !roll_) begin_roll(false, "configuration changed");
}

bool ServiceRunner::rolling_restart(const std::string& why, std::string& error) {
    if (roll_) {
        error = fmt::format("a rolling restart of {} is in progress ({} of {})", spec_->name, roll_->next + 1,
                            replicas_.size());
        return false;
    }
    begin_roll(true, why);
    return true;
}

void ServiceRunner::begin_roll(bool force, const std::string& why) {
    roll_ = Roll{0, force};
    ++rolls_;
    event("rolling_restart", fmt::format("{}: {} replica(s), one at a time", why, replicas_.size()));
    roll_next();
}

void ServiceRunner::roll_next() {
    while (roll_->next < replicas_.size() && !roll_->force && !needs_replace(roll_->next)) ++roll_->next;
    if (roll_->next >= replicas_.size()) {
        roll_.reset();
        event("rolling_restart_done", "every replica replaced and ready");
        for (std::size_t i = 0; i < replicas_.size(); ++i) {
            if (!needs_replace(i)) continue;
            begin_roll(false, "configuration changed during the rolling restart");
            return;
        }
        return;
    }
    replicas_[roll_->next]->replace(spec_, [this](bool ok, const std::string& why) {
        if (!roll_) return;
        if (!ok) {
            roll_.reset();
            event("rolling_restart_halted", why);
            return;
        }
        ++roll_->next;
        roll_next();
    });
}

void ServiceRunner::retire(std::unique_ptr<Replica> r) {
    Replica* raw = r.get();
    retiring_.push_back(std::move(r));
    // Destroyed from a fresh turn of the event loop, not from within its own callback.
    raw->stop([this, raw, alive = alive_] {
        env_.scheduler.post([this, raw, alive] {
            if (!*alive) return;
            std::erase_if(retiring_, [raw](const auto& p) { return p.get() == raw; });
        });
    });
}

void ServiceRunner::stop(std::function<void()> done) {
    roll_.reset();
    auto left = std::make_shared<std::size_t>(replicas_.size() + retiring_.size() + 1);
    auto one_gone = [left, done = std::move(done)] {
        if (--*left == 0 && done) done();
    };
    for (auto& r : replicas_) r->stop(one_gone);
    for (auto& r : retiring_) r->stop(one_gone);
    one_gone();
}

void ServiceRunner::terminate() {
    roll_.reset();
    for (auto& r : replicas_) r->terminate();
    for (auto& r : retiring_) r->terminate();
}

void ServiceRunner::wait_gone(TimePoint deadline) {
    for (auto& r : replicas_) r->wait_gone(deadline);
    for (auto& r : retiring_) r->wait_gone(deadline);
}

void ServiceRunner::reapply_serving() {
    for (auto& r : replicas_) r->reapply_serving();
}

bool ServiceRunner::settled() const {
    for (const auto& r : replicas_) {
        if (!r->settled()) return false;
    }
    return true;
}

ServiceStatus ServiceRunner::status() const {
    ServiceStatus s;
    s.name = spec_->name;
    s.replicas = spec_->replicas;
    s.rolling = roll_.has_value();
    s.rolling_at = roll_ ? roll_->next : 0;
    s.rolling_restarts = rolls_;
    s.restart = std::string(config::name_of(spec_->restart));
    for (const auto& r : replicas_) {
        s.replica_status.push_back(r->status());
        s.ready += r->state() == ReplicaState::Ready ? 1 : 0;
    }
    for (const auto& r : retiring_) s.replica_status.push_back(r->status());
    return s;
}

} // namespace haven::supervisor
