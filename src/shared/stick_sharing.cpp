// Stick tables shared through Redis (see stick_sharing.hpp).
#include "shared/stick_sharing.hpp"

#include "core/clock.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <charconv>
#include <unistd.h>

namespace haven::shared {
namespace stick_sharing_detail {

// KEYS[1] the entry; ARGV: server (hex), stamp (ms), expire (ms), channel, message prefix. Keeps
// the later of the stored and the new write; publishes what it stored.
constexpr const char* kWriteScript = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur then
  local stamp = tonumber(string.match(cur, ':(%d+)$'))
  if stamp and stamp > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. KEYS[1] .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
return 1
)lua";

constexpr Duration kWriteBound = std::chrono::seconds(1); // control thread only: never a request's wait

template <class T>
bool parse_number(std::string_view text, T& out, int base = 10) {
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
    return ec == std::errc() && p == text.data() + text.size();
}

// "SERVERHEX:STAMP" as stored.
bool parse_value(std::string_view v, std::uint64_t& server, std::int64_t& stamp) {
    const auto colon = v.find(':');
    return colon != std::string_view::npos && parse_number(v.substr(0, colon), server, 16) &&
           parse_number(v.substr(colon + 1), stamp);
}

} // namespace stick_sharing_detail

namespace sd = stick_sharing_detail;

StickSharing::StickSharing(asio::io_context& control, Scheduler& scheduler, RedisSettings settings, std::string prefix, EventLog& events,
                           Lookup lookup, SharedPools pools)
    : control_(control), scheduler_(scheduler), prefix_(std::move(prefix)), events_(events), lookup_(std::move(lookup)),
      pools_(std::move(pools)),
      instance_(fmt::format("{}-{:x}", ::getpid(), wall_time_us())),
      client_(std::make_unique<RedisClient>(control, std::move(settings))) {
    down_since_us_ = wall_time_us();
}

StickSharing::~StickSharing() {
    *alive_ = false;
    stop();
}

void StickSharing::start() {
    client_->on_state([this](bool up) { on_state(up); });
    // The tables reload once the subscription is confirmed, not when the command connection comes
    // up: an entry another instance writes in between then arrives on the channel, where it would
    // otherwise be missed by both the reload and the subscription.
    client_->on_subscribed([this] { reload(); });
    client_->subscribe(channel(), [this](std::string_view, std::string_view payload) { on_message(payload); });
    client_->start();
}

void StickSharing::stop() {
    stopping_ = true; // haven is shutting down: no "Redis unreachable" event for that
    client_->stop();
}

bool StickSharing::up() const { return client_->connected(); }
std::string StickSharing::master() const { return client_->master(); }
const RedisClient::Counters& StickSharing::redis() const { return client_->counters(); }

std::string StickSharing::key_of(std::string_view pool, std::uint64_t key) const {
    return fmt::format("{}:stick:{}:{:016x}", prefix_, pool, key);
}

void StickSharing::write(const std::string& pool, std::size_t, const session::StickWrite& w) {
    asio::post(control_, [this, alive = alive_, p = Pending{pool, w}]() mutable {
        if (*alive) send(std::move(p));
    });
}

void StickSharing::send(Pending p) {
    const auto* st = lookup_(p.pool);
    if (!st || !st->table()) return; // the pool lost its table in a reload
    if (!client_->connected()) {
        keep(std::move(p));
        return;
    }
    const auto expire_ms = std::chrono::duration_cast<std::chrono::milliseconds>(st->table()->expire()).count();
    std::vector<std::string> argv{"EVAL",
                                  sd::kWriteScript,
                                  "1",
                                  key_of(p.pool, p.w.key),
                                  fmt::format("{:x}", p.w.server),
                                  std::to_string(p.w.stamp),
                                  std::to_string(std::max<std::int64_t>(1, expire_ms)),
                                  channel(),
                                  instance_};
    client_->send(std::move(argv), sd::kWriteBound, [this, alive = alive_, p](RedisResult r) mutable {
        if (!*alive) return;
        if (r.status != RedisStatus::Ok) {
            ++counters_.failed;
            keep(std::move(p));
            return;
        }
        ++(r.reply.integer == 1 ? counters_.published : counters_.superseded);
    });
}

void StickSharing::keep(Pending p) {
    if (backlog_.size() >= kMaxBacklog) {
        backlog_.pop_front();
        ++counters_.dropped;
    }
    backlog_.push_back(std::move(p));
}

void StickSharing::on_state(bool up) {
    if (stopping_) return;
    if (!up) {
        down_since_us_ = wall_time_us();
        events_.add("shared_state_down", "", "", "Redis unreachable: stick tables work locally until it returns");
        return;
    }
    events_.add(ever_up_ ? "shared_state_up" : "shared_state_connected", "", "",
                "Redis at " + client_->master() + (ever_up_ ? ": sending what waited, reloading the tables" : ""));
    ever_up_ = true;
    down_since_us_ = 0;
    resync();
}

// "<instance> <prefix>:stick:<pool>:<keyhex> <serverhex> <stamp>"
void StickSharing::on_message(std::string_view payload) {
    const auto sp1 = payload.find(' ');
    const auto sp2 = payload.find(' ', sp1 + 1);
    const auto sp3 = payload.find(' ', sp2 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp3 == std::string_view::npos) return;
    if (payload.substr(0, sp1) == instance_) return; // our own write: already in our table
    const std::string_view key = payload.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string head = prefix_ + ":stick:";
    const auto last = key.rfind(':');
    if (!key.starts_with(head) || last == std::string_view::npos || last < head.size()) return;
    const std::string_view pool = key.substr(head.size(), last - head.size());
    std::uint64_t k = 0;
    std::uint64_t server = 0;
    std::int64_t stamp = 0;
    if (!sd::parse_number(key.substr(last + 1), k, 16) ||
        !sd::parse_value(std::string(payload.substr(sp2 + 1, sp3 - sp2 - 1)) + ":" + std::string(payload.substr(sp3 + 1)),
                         server, stamp)) {
        return;
    }
    const auto* st = lookup_(pool);
    if (!st || !st->table() || !st->config().table->shared) return;
    const auto put = st->table()->put(k, server, stamp, scheduler_.now());
    ++(put == session::StickTable::Put::Older ? counters_.stale : counters_.applied);
}

void StickSharing::resync() {
    // What waited goes at once (the script keeps the later write wherever it came from); the
    // tables reload when the subscription is confirmed (reload()).
    auto waiting = std::move(backlog_);
    backlog_.clear();
    for (auto& p : waiting) send(std::move(p));
}

void StickSharing::reload() {
    ++counters_.resyncs;
    asio::co_spawn(control_, reload_tables(alive_), asio::detached);
}

// Bounded: SCAN walks each pool's keys once, 500 at a time; each batch is one MGET.
asio::awaitable<void> StickSharing::reload_tables(std::shared_ptr<bool> alive) {
    constexpr Duration kBound = std::chrono::seconds(2);
    for (const std::string& pool : pools_()) {
        const std::string match = key_of(pool, 0).substr(0, prefix_.size() + 7 + pool.size() + 1) + "*";
        std::string cursor = "0";
        do {
            // Built before the co_await: g++ 12 cannot keep a braced list alive across one.
            std::vector<std::string> scan;
            scan.push_back("SCAN");
            scan.push_back(cursor);
            scan.push_back("MATCH");
            scan.push_back(match);
            scan.push_back("COUNT");
            scan.push_back("500");
            auto r = co_await client_->call(std::move(scan), kBound);
            if (!*alive) co_return;
            if (r.status != RedisStatus::Ok || r.reply.elements.size() != 2) co_return;
            cursor = r.reply.elements[0].str;
            std::vector<std::string> argv;
            argv.push_back("MGET");
            for (const auto& k : r.reply.elements[1].elements) argv.push_back(k.str);
            if (argv.size() == 1) continue;
            auto v = co_await client_->call(argv, kBound);
            if (!*alive) co_return;
            if (v.status != RedisStatus::Ok || v.reply.elements.size() + 1 != argv.size()) co_return;
            const auto* st = lookup_(pool);
            if (!st || !st->table()) break;
            for (std::size_t i = 0; i < v.reply.elements.size(); ++i) {
                const std::string_view key = argv[i + 1];
                std::uint64_t k = 0;
                std::uint64_t server = 0;
                std::int64_t stamp = 0;
                if (!sd::parse_number(key.substr(key.rfind(':') + 1), k, 16) ||
                    !sd::parse_value(v.reply.elements[i].str, server, stamp)) {
                    continue;
                }
                if (st->table()->put(k, server, stamp, scheduler_.now()) != session::StickTable::Put::Older) {
                    ++counters_.loaded;
                }
            }
        } while (cursor != "0");
    }
}

} // namespace haven::shared
