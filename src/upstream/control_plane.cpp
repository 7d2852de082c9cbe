#include "upstream/control_plane.hpp"

#include <algorithm>

#include <stdexcept>

namespace haven::upstream {

ControlPlane::ControlPlane(asio::io_context& io, EventLog& events, Publish publish, std::size_t workers)
    : scheduler_(io), random_(FastRandom::from_entropy()), events_(events),
      env_{io, scheduler_, random_, events_, std::move(publish), {}, workers} {}

ControlPlane::~ControlPlane() { stop(); }

void ControlPlane::configure(const config::Config& config) {
    // Resolve everything first, so that a bad address changes nothing.
    for (std::uint32_t i = 0; i < config.pools.size(); ++i) {
        std::string error;
        if (!describe_pool(config.pools[i], i, env_.workers, error)) throw std::runtime_error(error);
    }
    std::vector<std::unique_ptr<PoolState>> next;
    for (std::uint32_t i = 0; i < config.pools.size(); ++i) {
        const auto& p = config.pools[i];
        std::unique_ptr<PoolState> kept;
        for (auto& old : pools_) {
            if (old && old->name() == p.name) {
                kept = std::move(old);
                break;
            }
        }
        if (kept) {
            kept->reconfigure(p, i);
        } else {
            kept = std::make_unique<PoolState>(env_, p, i);
            if (started_) kept->start();
        }
        next.push_back(std::move(kept));
    }
    pools_ = std::move(next); // pools that left are destroyed here, stopping their checks
}

void ControlPlane::check(const config::Config& config, std::vector<std::string>& errors) const {
    for (std::uint32_t i = 0; i < config.pools.size(); ++i) {
        std::string error;
        if (!describe_pool(config.pools[i], i, env_.workers, error)) errors.push_back(error);
    }
}

void ControlPlane::start() {
    started_ = true;
    for (auto& p : pools_) p->start();
    tick_ = scheduler_.make_timer();
    arm_tick();
}

void ControlPlane::stop() {
    if (tick_) tick_->cancel();
    pools_.clear();
}

void ControlPlane::arm_tick() {
    tick_->arm(std::chrono::milliseconds(100), [this] {
        const auto now = scheduler_.now();
        for (auto& p : pools_) p->tick(now);
        arm_tick();
    });
}

std::vector<std::shared_ptr<const HostSet>> ControlPlane::snapshots() const {
    std::vector<std::shared_ptr<const HostSet>> out;
    for (const auto& p : pools_) out.push_back(p->current());
    return out;
}

PoolState* ControlPlane::pool(std::string_view name) {
    for (auto& p : pools_) {
        if (p->name() == name) return p.get();
    }
    return nullptr;
}

bool ControlPlane::first_round_done() const {
    for (const auto& p : pools_) {
        if (!p->first_round_done()) return false;
    }
    return true;
}

Duration ControlPlane::longest_check_timeout() const {
    Duration longest{0};
    for (const auto& p : pools_) {
        if (const auto& h = p->config().health_check) {
            longest = std::max(longest, std::chrono::duration_cast<Duration>(h->timeout));
        }
    }
    return longest;
}

} // namespace haven::upstream
