// StickTable: which server a key (a client address, a header's value, an application's session
// cookie) sticks to, for every worker thread of one pool. A ShardedLru (core/sharded_lru.hpp):
// bounded by `size` entries, the least recently used dropped first, each entry forgotten
// `expire` after it was last used. Keys and servers are stored as 64-bit hashes (a key's text
// is never kept), so an entry costs the same whatever the key's length (bytes_per_entry()).
//
// Entries carry the wall-clock time they were written (`stamp`, milliseconds since the epoch):
// when several haven instances share entries through Redis (shared/), the newest write wins.
#pragma once

#include "core/clock.hpp"
#include "core/sharded_lru.hpp"

#include <atomic>
#include <cstdint>
#include <optional>

namespace haven::session {

struct StickEntry {
    std::uint64_t server = 0;   // the server's sticky id hash (Sticky::server_key); 0: none
    std::int64_t expires = 0;   // steady-clock nanoseconds
    std::int64_t stamp = 0;     // wall-clock ms of the write (last writer wins)
};

class StickTable {
public:
    StickTable(std::size_t size, Duration expire) : expire_(expire), lru_(size) {}

    // The entry `key` names (server and stamp), its expiry pushed back (a use keeps an entry
    // alive); nullopt when absent or expired.
    std::optional<StickEntry> find(std::uint64_t key, TimePoint now);

    enum class Put : std::uint8_t {
        Added,     // a new entry
        Changed,   // the key now sticks to another server
        Refreshed, // the same server; its expiry pushed back
        Older,     // an entry written later is kept (last writer wins)
    };
    // Sticks `key` to `server` as written at `stamp`, unless the entry holds a later write.
    Put put(std::uint64_t key, std::uint64_t server, std::int64_t stamp, TimePoint now);

    std::size_t size() const { return lru_.size(); }
    std::uint64_t evictions() const { return lru_.evictions(); }
    Duration expire() const { return expire_; }
    static std::size_t bytes_per_entry() { return ShardedLru<StickEntry>::bytes_per_key(); }

private:
    Duration expire_;
    ShardedLru<StickEntry> lru_;
};

} // namespace haven::session
