// LimitSharing: rate limits shared by every haven instance that points at the same Redis
// (shared_state:, docs/sessions.md#shared-rate-limits). It runs on the control thread; the
// request path only counts, in its own table, what it admitted (policy::LimitTable).
//
// Every `sync` interval (100 ms by default) it takes each shared table's keys with requests
// admitted since the last round and sends their counts to Redis, up to kKeysPerCall keys per call
// of one Lua script. The script keeps each key's GCRA state — one TAT per limit, on Redis's own
// clock (TIME), in a hash that expires when its TATs have passed — charges the counts to it
// atomically, and answers how far each TAT runs ahead of now. The table merges that back (the
// later TAT wins), so a key spent through other instances is refused here too.
//
// Worst case, per key and limit, in any window of length P the instances admit at most
// N + (N - 1) (GCRA's own edge, as on one instance) plus, for each other instance, what it can
// admit before its count reaches Redis and comes back: min(burst, its requests in sync + the
// round trip). While Redis is down each instance limits alone (K instances: up to K x N), and
// the counts of that time are dropped, not sent late (counted as unsent).
#pragma once

#include "core/scheduler.hpp"
#include "policy/route_policies.hpp"
#include "shared/redis/client.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace haven::shared {

class LimitSharing {
public:
    // One shared table: the route's policies keep it alive while a call about it is out.
    struct Source {
        std::shared_ptr<policy::RoutePolicies> route;
        std::size_t index = 0; // in route->limiters
    };
    using Sources = std::function<std::vector<Source>()>;
    static constexpr std::size_t kKeysPerCall = 100;
    // Calls out at once beyond which a round's counts are dropped (a stalled Redis costs bounded memory).
    static constexpr std::size_t kMaxInFlight = 1000;

    LimitSharing(RedisClient& client, Scheduler& scheduler, std::string prefix, Duration interval, Sources sources);
    ~LimitSharing();
    LimitSharing(const LimitSharing&) = delete;
    LimitSharing& operator=(const LimitSharing&) = delete;

    void start();
    void stop();
    // One round now (also what the timer runs).
    void round();

    struct Counters {
        std::uint64_t rounds = 0;
        std::uint64_t calls = 0;        // script calls answered
        std::uint64_t failed_calls = 0; // script calls that failed (their counts are unsent)
        std::uint64_t keys = 0;         // keys whose counts Redis took and whose TATs were merged
        std::uint64_t sent = 0;         // admissions Redis took
        std::uint64_t unsent = 0;       // admissions dropped: Redis down, a call failed, too many out
    };
    const Counters& counters() const { return counters_; }
    Duration interval() const { return interval_; }

    // The Redis key of one table's key (a hash: field i is limit i's TAT in microseconds).
    std::string key_of(std::string_view id, std::uint64_t key) const;

private:
    void send(const Source& src, std::vector<policy::LimitTable::Unsynced>::const_iterator first,
              std::vector<policy::LimitTable::Unsynced>::const_iterator last);

    RedisClient& client_;
    Scheduler& scheduler_;
    std::string prefix_;
    Duration interval_;
    Sources sources_;
    std::unique_ptr<Timer> timer_;
    std::vector<policy::LimitTable::Unsynced> scratch_;
    std::size_t in_flight_ = 0;
    Counters counters_;
    bool stopped_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace haven::shared
