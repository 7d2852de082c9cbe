// RedisClient and the loop that keeps its command connection up: find the master (the first
// server that answers, or the one the sentinels name), connect and handshake, stay until the
// connection drops or the master moves, then start over with backoff.
#include "shared/redis/client_core.hpp"

#include "core/log_exception.hpp"
#include "net/io.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <spdlog/spdlog.h>

namespace haven::shared {
namespace redis_client_detail {

// Notes why a handshake step failed; false, for `co_return step_failed(...)`.
bool step_failed(std::string& why, const char* step, const RedisResult& r) {
    const char* status = r.status == RedisStatus::Timeout ? "timeout" : "failed";
    why = std::string(step) + " " + status + (r.reply.str.empty() ? "" : ": " + r.reply.str);
    return false;
}

} // namespace redis_client_detail

RedisClient::Core::Core(asio::io_context& i, RedisSettings s)
    : io(i), settings(std::move(s)), wake(i), watch_wake(i) {}

void RedisClient::Core::start() {
    if (started || stopped) return;
    started = true;
    auto on_end = [](std::exception_ptr e) { log_exception(e, "redis client"); };
    asio::co_spawn(io, run(shared_from_this()), on_end);
    if (sentinel_mode()) asio::co_spawn(io, watch(shared_from_this()), on_end);
}

// Everything ends here, synchronously: after it no callback of the client runs again, except
// what send() posts and call() resumes, so the client may be destroyed right after.
void RedisClient::Core::stop() {
    if (stopped) return;
    stopped = true;
    const bool was_up = up();
    if (was_up) ++counters.disconnects;
    if (auto c = std::exchange(command, nullptr)) c->close(); // its pending complete: Closed
    master_text.clear();
    for (auto& weak : std::exchange(live, {})) {
        if (auto c = weak.lock()) c->close(); // handshakes, pub/sub, sentinels
    }
    wake.cancel();
    watch_wake.cancel();
    if (subscriber_wake) subscriber_wake->cancel();
    subscriptions.clear();
    auto listeners = std::exchange(state_listeners, {});
    if (was_up) {
        spdlog::info("redis: stopped; disconnected from {}", redis_address_text(master));
        for (auto& l : listeners) l(false);
    }
}

void RedisClient::Core::send(std::vector<std::string>& argv, Duration bound, std::function<void(RedisResult)>& done) {
    auto post_result = [&](RedisResult r) {
        asio::post(io, [d = std::move(done), r = std::move(r)]() mutable { d(std::move(r)); });
    };
    if (!done) done = [](RedisResult) {};
    if (argv.empty()) {
        RedisResult r{RedisStatus::ServerError, {}};
        r.reply.type = RedisReply::Type::Error;
        r.reply.str = "ERR empty command";
        return post_result(std::move(r));
    }
    if (!command || !command->command(argv, bound, done)) return post_result(RedisResult{});
    ++counters.commands;
}

asio::awaitable<void> RedisClient::Core::run(std::shared_ptr<Core> self) {
    std::uint32_t failures = 0;
    std::string why;
    while (!self->stopped) {
        auto conn = co_await self->open_master(why);
        if (self->stopped) break;
        if (!conn) {
            // One warning per outage; the retries after it are routine.
            if (failures == 0) spdlog::warn("redis: cannot connect: {}", why);
            co_await self->pause(self->wake, redis_backoff(failures++, self->settings));
            continue;
        }
        failures = 0;
        self->went_up(std::move(conn));
        co_await self->wait_while_up();
        if (self->stopped) break;
        const bool moved = self->rediscover;
        self->went_down(moved ? "the master moved" : "connection lost");
        // A lost connection may be a server restarting: give it the shortest pause first. A
        // master that moved is known to be elsewhere: go there at once.
        if (!moved) co_await self->pause(self->wake, redis_backoff(0, self->settings));
    }
}

// Direct mode: the servers in order, the first that completes the handshake. Sentinel mode: the
// address the sentinels give, if it is a master.
asio::awaitable<std::shared_ptr<RedisConnection>> RedisClient::Core::open_master(std::string& why) {
    rediscover = false;
    if (sentinel_mode()) {
        const auto target = co_await ask_sentinels(why);
        if (!target || stopped) co_return nullptr;
        co_return co_await open_link(*target, RedisLink::Command, why);
    }
    if (settings.servers.empty()) why = "no servers configured";
    for (const auto& server : settings.servers) {
        if (stopped) co_return nullptr;
        if (auto conn = co_await open_link(server, RedisLink::Command, why)) co_return conn;
    }
    co_return nullptr;
}

asio::awaitable<std::shared_ptr<RedisConnection>> RedisClient::Core::open_link(const RedisAddress& to, RedisLink link,
                                                                              std::string& why) {
    auto conn = std::make_shared<RedisConnection>(io);
    std::erase_if(live, [](const auto& w) { return w.expired(); });
    live.push_back(conn);
    why.clear();
    bool ok = co_await conn->connect(to, settings.connect_timeout);
    if (ok) ok = co_await handshake(*conn, link, why);
    if (ok && conn->open() && !stopped) co_return conn;
    // The socket's own error (refused, reset, timeout) says more than the step it broke.
    if (!conn->error().empty()) why = conn->error();
    why = redis_address_text(to) + ": " + (why.empty() ? "closed" : why);
    conn->close();
    co_return nullptr;
}

// AUTH, SELECT and ROLE as the link needs; each answer awaited before the next, bounded by
// connect_timeout. False (`why` says why) when one fails.
asio::awaitable<bool> RedisClient::Core::handshake(RedisConnection& c, RedisLink link, std::string& why) {
    const auto self = c.shared_from_this();
    const Duration bound = settings.connect_timeout;
    if (link != RedisLink::Sentinel && !settings.password.empty()) {
        std::vector<std::string> auth{"AUTH", settings.password}; // not inline: GCC 12 coroutine bug
        const auto r = co_await redis_call(self, std::move(auth), bound);
        if (r.status != RedisStatus::Ok) co_return redis_client_detail::step_failed(why, "AUTH", r);
    }
    if (link == RedisLink::Command && settings.database != 0) {
        std::vector<std::string> select{"SELECT", std::to_string(settings.database)};
        const auto r = co_await redis_call(self, std::move(select), bound);
        if (r.status != RedisStatus::Ok) co_return redis_client_detail::step_failed(why, "SELECT", r);
    }
    if (link == RedisLink::Command && sentinel_mode()) {
        // A sentinel's answer can be stale (a failover under way): only a master will do.
        std::vector<std::string> role{"ROLE"};
        const auto r = co_await redis_call(self, std::move(role), bound);
        if (!redis_role_is_master(r)) co_return redis_client_detail::step_failed(why, "ROLE (not a master)", r);
    }
    co_return true;
}

asio::awaitable<void> RedisClient::Core::pause(asio::steady_timer& timer, Duration d) {
    if (stopped) co_return;
    timer.expires_after(d);
    co_await timer.async_wait(net::use_nothrow); // cut short by cancel(): stop(), +switch-master
}

asio::awaitable<void> RedisClient::Core::wait_while_up() {
    while (!stopped && !rediscover && command && command->open()) {
        wake.expires_at(TimePoint::max());
        co_await wake.async_wait(net::use_nothrow);
    }
}

void RedisClient::Core::went_up(std::shared_ptr<RedisConnection> conn) {
    std::weak_ptr<Core> weak = weak_from_this();
    conn->set_counters(&counters);
    conn->set_on_closed([weak] {
        if (auto c = weak.lock()) c->wake.cancel();
    });
    // Only where someone can promote another server: in direct mode the first server that answers
    // would be this one again, and every -READONLY would cost a reconnect.
    if (sentinel_mode()) {
        conn->set_on_error_reply([weak](const RedisReply& r) {
            if (!r.str.starts_with("READONLY")) return;
            if (auto c = weak.lock()) c->request_rediscovery("READONLY answer");
        });
    }
    master = conn->address();
    master_text = redis_address_text(master);
    command = std::move(conn);
    ++counters.connects;
    ++epoch;
    if (!last_master.empty() && last_master != master_text) {
        ++counters.failovers;
        spdlog::warn("redis: failover: master {} -> {}", last_master, master_text);
    }
    last_master = master_text;
    spdlog::info("redis: connected to {}", master_text);
    start_subscriber();
    notify(true);
}

void RedisClient::Core::went_down(const char* why) {
    auto conn = std::exchange(command, nullptr);
    master_text.clear();
    ++counters.disconnects;
    ++epoch;
    if (conn) conn->close(); // its pending commands complete with Closed
    end_subscriber();
    spdlog::warn("redis: disconnected from {}: {}", redis_address_text(master), why);
    notify(false);
}

void RedisClient::Core::notify(bool is_up) {
    // By index, each listener copied: a listener may add listeners or stop the client.
    for (std::size_t i = 0; i < state_listeners.size(); ++i) {
        auto listener = state_listeners[i];
        listener(is_up);
    }
}

void RedisClient::Core::request_rediscovery(const char* why) {
    if (stopped || rediscover) return;
    spdlog::info("redis: asking where the master is: {}", why);
    rediscover = true;
    wake.cancel();
}

// ---- RedisClient: the facade

RedisClient::RedisClient(asio::io_context& io, RedisSettings settings)
    : core_(std::make_shared<Core>(io, std::move(settings))) {}

RedisClient::~RedisClient() {
    // Listeners often capture their owner, which is being destroyed too (perhaps already half):
    // tell them nothing. Pending commands still complete (Closed): `done` runs exactly once.
    core_->state_listeners.clear();
    core_->subscribed_listener = nullptr;
    stop();
}

void RedisClient::start() { core_->start(); }
void RedisClient::stop() { core_->stop(); }

void RedisClient::send(std::vector<std::string> argv, Duration bound, std::function<void(RedisResult)> done) {
    core_->send(argv, bound, done);
}

asio::awaitable<RedisResult> RedisClient::call(std::vector<std::string> argv, Duration bound) {
    auto core = core_;
    // Named, not a temporary of the co_await expression (GCC 12 warns about a lambda in the frame).
    std::function<void(RedisConnection::Done)> start = [&](RedisConnection::Done done) {
        core->send(argv, bound, done);
    };
    co_return co_await redis_await(std::move(start));
}

void RedisClient::subscribe(std::string channel, std::function<void(std::string_view, std::string_view)> on_message) {
    core_->add_subscription(std::move(channel), std::move(on_message));
}

void RedisClient::on_subscribed(std::function<void()> listener) {
    if (!core_->stopped) core_->subscribed_listener = std::move(listener);
}

void RedisClient::on_state(std::function<void(bool up)> listener) {
    if (!core_->stopped && listener) core_->state_listeners.push_back(std::move(listener));
}

bool RedisClient::connected() const { return core_->command && core_->command->open(); }

std::string RedisClient::master() const { return connected() ? core_->master_text : std::string(); }

const RedisClient::Counters& RedisClient::counters() const { return core_->counters; }

} // namespace haven::shared
