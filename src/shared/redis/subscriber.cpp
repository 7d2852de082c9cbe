// Pub/sub: a second connection to the master the command connection is up at. A connection in
// subscribed mode accepts no ordinary commands, hence its own. One loop per "up" (epoch): it
// connects, subscribes to every channel, and reconnects with backoff while the command connection
// stays up; the next "down" ends it, the next "up" starts a fresh one.
#include "shared/redis/client_core.hpp"

#include "core/log_exception.hpp"
#include "net/io.hpp"

#include <asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace haven::shared {
namespace redis_subscriber_detail {

// SUBSCRIBE with every distinct channel once.
std::vector<std::string> subscribe_command(const std::vector<std::pair<std::string, RedisMessageHandler>>& subs) {
    std::vector<std::string> argv{"SUBSCRIBE"};
    for (const auto& [channel, handler] : subs) {
        if (std::find(argv.begin() + 1, argv.end(), channel) == argv.end()) argv.push_back(channel);
    }
    return argv;
}

} // namespace redis_subscriber_detail

void RedisClient::Core::add_subscription(std::string channel, RedisMessageHandler handler) {
    if (stopped || !handler) return;
    const bool known = std::any_of(subscriptions.begin(), subscriptions.end(),
                                   [&](const auto& s) { return s.first == channel; });
    subscriptions.emplace_back(channel, std::move(handler));
    if (!known && subscriber && subscriber->open()) subscriber->send_raw({"SUBSCRIBE", channel});
    start_subscriber(); // the first subscription, made while up
}

void RedisClient::Core::start_subscriber() {
    if (stopped || !up() || subscriptions.empty() || subscriber_epoch == epoch) return;
    subscriber_epoch = epoch;
    asio::co_spawn(io, run_subscriber(shared_from_this(), epoch),
                   [](std::exception_ptr e) { log_exception(e, "redis subscriber"); });
}

void RedisClient::Core::end_subscriber() {
    if (auto conn = std::exchange(subscriber, nullptr)) conn->close();
    if (subscriber_wake) subscriber_wake->cancel();
}

asio::awaitable<void> RedisClient::Core::run_subscriber(std::shared_ptr<Core> self, std::uint64_t epoch) {
    auto wake = std::make_shared<asio::steady_timer>(self->io);
    self->subscriber_wake = wake;
    std::uint32_t failures = 0;
    std::string why;
    while (self->subscriber_current(epoch)) {
        auto conn = co_await self->open_link(self->master, RedisLink::Subscriber, why);
        if (!self->subscriber_current(epoch)) {
            if (conn) conn->close();
            break;
        }
        if (conn) {
            failures = 0;
            std::weak_ptr<Core> weak = self;
            conn->set_push_handler([weak](const RedisReply& r) {
                if (auto c = weak.lock()) c->on_message(r);
            });
            conn->set_on_closed([wake] { wake->cancel(); });
            conn->send_raw(redis_subscriber_detail::subscribe_command(self->subscriptions));
            self->subscriber = conn;
            while (self->subscriber_current(epoch) && conn->open()) {
                wake->expires_at(TimePoint::max());
                co_await wake->async_wait(net::use_nothrow);
            }
            if (!self->subscriber_current(epoch)) break;
            spdlog::warn("redis: pub/sub connection to {} lost: {}", self->master_text, conn->error());
            self->subscriber.reset();
        } else if (failures == 0) {
            spdlog::warn("redis: pub/sub connection: {}", why);
        }
        if (!self->subscriber_current(epoch)) break;
        wake->expires_after(redis_backoff(failures++, self->settings));
        co_await wake->async_wait(net::use_nothrow);
    }
    if (self->subscriber_wake == wake) self->subscriber_wake.reset();
}

// Pushes are ["subscribe", channel, count] confirmations and ["message", channel, payload].
void RedisClient::Core::on_message(const RedisReply& push) {
    if (push.type != RedisReply::Type::Array || push.elements.size() != 3) return;
    if (push.elements[0].str == "subscribe") {
        if (auto listener = subscribed_listener) listener(); // copied: it may stop the client
        return;
    }
    if (push.elements[0].str != "message") return;
    const std::string& channel = push.elements[1].str;
    const std::string& payload = push.elements[2].str;
    // By index, each handler copied: a handler may subscribe (growing the list) or stop the client.
    for (std::size_t i = 0; i < subscriptions.size(); ++i) {
        if (subscriptions[i].first != channel) continue;
        auto handler = subscriptions[i].second;
        handler(channel, payload);
    }
}

} // namespace haven::shared
