// The production Scheduler: timers and posted work on an asio::io_context.
#pragma once

#include "core/scheduler.hpp"

#include <asio/io_context.hpp>

namespace haven {

class AsioScheduler final : public Scheduler {
public:
    explicit AsioScheduler(asio::io_context& io) : io_(io) {}
    TimePoint now() const override;
    std::unique_ptr<Timer> make_timer() override;
    void post(std::function<void()> fn) override;
    asio::io_context& io() { return io_; }

private:
    asio::io_context& io_;
};

} // namespace haven
