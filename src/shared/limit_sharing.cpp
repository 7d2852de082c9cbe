// Rate limits shared through Redis (see limit_sharing.hpp).
#include "shared/limit_sharing.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace haven::shared {
namespace limit_sharing_detail {

// KEYS: the keys' hashes. ARGV[1] = L, the table's number of limits; ARGV[2..L+1] each limit's
// interval (period / count) in microseconds, fractions allowed; ARGV[L+2..] each key's admissions.
// Per key and limit: TAT = max(TAT, now) + admissions x interval (GCRA charged with a batch; a
// batch from an idle key counts from now, which errs on the strict side by at most one sync);
// answers each TAT's lead over now (microseconds), L per key in KEYS order. Whole microseconds
// are written with %d: Lua's default number format keeps 14 digits, a TAT has 16. A stored value
// that is not a number (anyone with access can write one) counts as none; a lead is at most
// 4000 days (kMaxAheadUs), so whatever is stored, the answer is a sane integer.
constexpr const char* kChargeScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local L = tonumber(ARGV[1])
local out = {}
for k = 1, #KEYS do
  local c = tonumber(ARGV[L + 1 + k])
  local horizon = 0
  for i = 1, L do
    local tat = tonumber(redis.call('HGET', KEYS[k], i) or '0') or 0
    if tat ~= tat or tat < now then tat = now end
    tat = math.min(tat + c * tonumber(ARGV[1 + i]), now + 345600000000000)
    redis.call('HSET', KEYS[k], i, string.format('%d', tat))
    local ahead = math.floor(tat - now)
    out[#out + 1] = ahead
    if ahead > horizon then horizon = ahead end
  end
  redis.call('PEXPIRE', KEYS[k], math.floor(horizon / 1000) + 1000)
end
return out
)lua";

constexpr Duration kCallBound = std::chrono::seconds(1); // control thread only: never a request's wait
// The longest lead of a common TAT taken from Redis: about 11 years, past any period a limit can
// have (a year at most), far from overflowing a steady-clock time point.
constexpr std::int64_t kMaxAheadUs = 4000LL * 24 * 3600 * 1'000'000;

} // namespace limit_sharing_detail

namespace ld = limit_sharing_detail;

LimitSharing::LimitSharing(RedisClient& client, Scheduler& scheduler, std::string prefix, Duration interval,
                           Sources sources)
    : client_(client), scheduler_(scheduler), prefix_(std::move(prefix)), interval_(interval),
      sources_(std::move(sources)), timer_(scheduler.make_timer()) {}

LimitSharing::~LimitSharing() {
    *alive_ = false;
    stop();
}

void LimitSharing::start() {
    stopped_ = false;
    timer_->arm(interval_, [this] {
        round();
        if (!stopped_) start();
    });
}

void LimitSharing::stop() {
    stopped_ = true;
    timer_->cancel();
}

std::string LimitSharing::key_of(std::string_view id, std::uint64_t key) const {
    return fmt::format("{}:limit:{}:{:016x}", prefix_, id, key);
}

void LimitSharing::round() {
    ++counters_.rounds;
    for (const Source& src : sources_()) {
        scratch_.clear();
        src.route->limiters[src.index].table->take_unsynced(scratch_);
        // Rules: without a connection, or with too many calls out, the counts are dropped (the
        // table has limited locally meanwhile); never queued to be charged late.
        if (!client_.connected() || in_flight_ >= kMaxInFlight) {
            for (const auto& u : scratch_) counters_.unsent += u.admitted;
            continue;
        }
        for (std::size_t i = 0; i < scratch_.size(); i += kKeysPerCall) {
            const auto first = scratch_.cbegin() + static_cast<std::ptrdiff_t>(i);
            send(src, first, first + static_cast<std::ptrdiff_t>(std::min(kKeysPerCall, scratch_.size() - i)));
        }
    }
}

void LimitSharing::send(const Source& src, std::vector<policy::LimitTable::Unsynced>::const_iterator first,
                        std::vector<policy::LimitTable::Unsynced>::const_iterator last) {
    const auto& rl = src.route->limiters[src.index];
    const auto& limits = rl.table->limits();
    const auto n = static_cast<std::size_t>(last - first);
    std::vector<std::string> argv;
    argv.reserve(4 + n * 2 + limits.size());
    argv.emplace_back("EVAL");
    argv.emplace_back(ld::kChargeScript);
    argv.push_back(std::to_string(n));
    std::vector<std::uint64_t> keys;
    keys.reserve(n);
    std::uint64_t admitted = 0;
    for (auto it = first; it != last; ++it) {
        argv.push_back(key_of(rl.id, it->key));
        keys.push_back(it->key);
        admitted += it->admitted;
    }
    argv.push_back(std::to_string(limits.size()));
    for (const auto& l : limits) {
        argv.push_back(fmt::format("{:.3f}", std::chrono::duration<double, std::micro>(l.interval()).count()));
    }
    for (auto it = first; it != last; ++it) argv.push_back(std::to_string(it->admitted));
    ++in_flight_;
    client_.send(std::move(argv), ld::kCallBound,
                 [this, alive = alive_, src, keys = std::move(keys), admitted](RedisResult r) {
                     if (!*alive) return;
                     --in_flight_;
                     auto& table = *src.route->limiters[src.index].table;
                     const std::size_t per_key = table.limits().size();
                     if (r.status != RedisStatus::Ok || r.reply.elements.size() != keys.size() * per_key) {
                         ++counters_.failed_calls;
                         counters_.unsent += admitted;
                         return;
                     }
                     ++counters_.calls;
                     counters_.sent += admitted;
                     const TimePoint now = scheduler_.now();
                     std::array<Duration, policy::kMaxLimitsPerTable> ahead{};
                     for (std::size_t k = 0; k < keys.size(); ++k) {
                         for (std::size_t i = 0; i < per_key; ++i) {
                             // Whoever can write to the Redis can put anything in a hash: a lead is
                             // taken as 0 to kMaxAhead (no overflow, no key refused for ever).
                             const auto& e = r.reply.elements[k * per_key + i];
                             const std::int64_t us = e.type == RedisReply::Type::Integer ? e.integer : 0;
                             ahead[i] = std::chrono::microseconds(std::clamp<std::int64_t>(us, 0, ld::kMaxAheadUs));
                         }
                         table.merge(keys[k], ahead, now);
                         ++counters_.keys;
                     }
                 });
}

} // namespace haven::shared
