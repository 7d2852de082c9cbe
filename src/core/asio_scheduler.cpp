#include "core/asio_scheduler.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

namespace haven {
namespace {

class AsioTimer final : public Timer {
public:
    explicit AsioTimer(asio::io_context& io) : timer_(io) {}
    ~AsioTimer() override {
        *alive_ = false;
        cancel();
    }

    void arm(Duration after, std::function<void()> callback) override {
        cancel();
        armed_ = true;
        const auto gen = ++generation_;
        timer_.expires_after(after);
        // The generation check makes cancel() final even if the wait already completed and its
        // handler is queued: a stale handler sees a newer generation and does nothing.
        timer_.async_wait([this, gen, cb = std::move(callback), alive = alive_](const asio::error_code& ec) {
            if (ec || !*alive || gen != generation_) return;
            armed_ = false;
            cb();
        });
    }
    void cancel() override {
        if (!armed_) return;
        armed_ = false;
        ++generation_;
        timer_.cancel();
    }
    bool armed() const override { return armed_; }

private:
    asio::steady_timer timer_;
    std::uint64_t generation_ = 0;
    bool armed_ = false;
    // Handlers may outlive the timer object by one queue turn; they check this flag first.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace

TimePoint AsioScheduler::now() const { return MonoClock::now(); }

std::unique_ptr<Timer> AsioScheduler::make_timer() { return std::make_unique<AsioTimer>(io_); }

void AsioScheduler::post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

} // namespace haven
