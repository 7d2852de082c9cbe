// Sentinel mode: where the master is, and when it moves.
//
// The client learns of a failover three ways, whichever comes first: its command connection drops
// (the old master died), a command is answered -READONLY (the old master came back as a replica),
// or the sentinel it listens to publishes +switch-master. Each makes run() ask the sentinels
// again; the ROLE check in the handshake refuses an answer that is not (yet) a master.
#include "shared/redis/client_core.hpp"

#include "net/io.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

namespace haven::shared {
namespace redis_sentinel_detail {

std::optional<std::uint16_t> port_of(std::string_view text) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

// "+switch-master" payload: "<name> <old ip> <old port> <new ip> <new port>".
std::vector<std::string_view> words_of(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        const auto start = text.find_first_not_of(' ');
        if (start == std::string_view::npos) break;
        text.remove_prefix(start);
        const auto end = std::min(text.find(' '), text.size());
        out.push_back(text.substr(0, end));
        text.remove_prefix(end);
    }
    return out;
}

// Built outside the co_await expressions: GCC 12 miscompiles braced lists of literals there.
std::vector<std::string> ask_master(const RedisSettings& s) {
    return {"SENTINEL", "get-master-addr-by-name", s.master_name};
}

} // namespace redis_sentinel_detail

std::optional<RedisAddress> redis_master_from_sentinel(const RedisResult& r) {
    // Nil: the sentinel does not monitor that name.
    if (r.status != RedisStatus::Ok || r.reply.type != RedisReply::Type::Array || r.reply.elements.size() != 2) {
        return std::nullopt;
    }
    const auto& host = r.reply.elements[0];
    const auto port = redis_sentinel_detail::port_of(r.reply.elements[1].str);
    if (host.type != RedisReply::Type::String || host.str.empty() || !port) return std::nullopt;
    return RedisAddress{host.str, *port};
}

bool redis_role_is_master(const RedisResult& r) {
    return r.status == RedisStatus::Ok && r.reply.type == RedisReply::Type::Array && !r.reply.elements.empty() &&
           r.reply.elements[0].str == "master";
}

// Each sentinel in turn, starting with the one that answered last.
asio::awaitable<std::optional<RedisAddress>> RedisClient::Core::ask_sentinels(std::string& why) {
    const std::size_t n = settings.sentinels.size();
    for (std::size_t i = 0; i < n && !stopped; ++i) {
        const std::size_t index = (next_sentinel + i) % n;
        auto conn = co_await open_link(settings.sentinels[index], RedisLink::Sentinel, why);
        if (!conn) continue;
        const auto r = co_await redis_call(conn, redis_sentinel_detail::ask_master(settings), settings.connect_timeout);
        conn->close();
        if (auto master_addr = redis_master_from_sentinel(r)) {
            next_sentinel = index;
            co_return master_addr;
        }
        why = redis_address_text(settings.sentinels[index]) + ": no master named \"" +
                     settings.master_name + "\"";
    }
    co_return std::nullopt;
}

// Keeps one sentinel connection subscribed to +switch-master, moving to the next sentinel when
// one cannot be reached.
asio::awaitable<void> RedisClient::Core::watch(std::shared_ptr<Core> self) {
    std::uint32_t failures = 0;
    std::string why;
    const auto& sentinels = self->settings.sentinels;
    while (!self->stopped) {
        const auto& at = sentinels[self->watch_sentinel % sentinels.size()];
        auto conn = co_await self->open_link(at, RedisLink::Sentinel, why);
        if (self->stopped) break;
        if (!conn) {
            // Without it a failover is noticed only when the old master fails a command.
            if (failures == 0) spdlog::warn("redis: cannot listen for +switch-master: {}", why);
            ++self->watch_sentinel;
            co_await self->pause(self->watch_wake, redis_backoff(failures++, self->settings));
            continue;
        }
        failures = 0;
        // A switch may have happened while no sentinel was listened to: ask before subscribing
        // (a subscribed connection takes no other command).
        const auto r = co_await redis_call(conn, redis_sentinel_detail::ask_master(self->settings),
                                           self->settings.connect_timeout);
        const auto named = redis_master_from_sentinel(r);
        if (named && self->up() && redis_address_text(*named) != self->master_text) {
            self->request_rediscovery("a sentinel names another master");
        }
        std::weak_ptr<Core> weak = self;
        conn->set_push_handler([weak](const RedisReply& push) {
            if (auto c = weak.lock()) c->on_sentinel_push(push);
        });
        conn->set_on_closed([weak] {
            if (auto c = weak.lock()) c->watch_wake.cancel();
        });
        conn->send_raw({"SUBSCRIBE", "+switch-master"});
        while (!self->stopped && conn->open()) {
            self->watch_wake.expires_at(TimePoint::max());
            co_await self->watch_wake.async_wait(net::use_nothrow);
        }
        if (self->stopped) break;
        ++self->watch_sentinel;
        co_await self->pause(self->watch_wake, redis_backoff(0, self->settings));
    }
}

void RedisClient::Core::on_sentinel_push(const RedisReply& push) {
    if (push.type != RedisReply::Type::Array || push.elements.size() != 3) return;
    if (push.elements[0].str != "message" || push.elements[1].str != "+switch-master") return;
    const auto words = redis_sentinel_detail::words_of(push.elements[2].str);
    if (words.size() != 5 || words[0] != settings.master_name) return;
    spdlog::warn("redis: sentinel: +switch-master {}", push.elements[2].str);
    const auto port = redis_sentinel_detail::port_of(words[4]);
    // Already there (the drop of the old master's connection came first): nothing to do.
    if (up() && port && redis_address_text(RedisAddress{std::string(words[3]), *port}) == master_text) return;
    request_rediscovery("+switch-master");
}

} // namespace haven::shared
