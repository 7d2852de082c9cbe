// StaleCache: the last good response to each GET of one route, kept so that the route can still
// answer while its servers cannot (the brief's graceful degradation; RFC 5861 stale-if-error).
// One cache per worker thread, so the request path takes no lock: a worker answers from what it
// has itself seen, and each holds at most max_bytes / threads.
//
// What is kept follows RFC 9111 for a shared cache, strictly (storable()): a GET without
// Authorization and without Cache-Control no-store; a complete response with Content-Length, at
// most max_object bytes, of a status cacheable by default or with explicit freshness; never one
// with no-store, no-cache, private, Vary or Set-Cookie. A copy may answer until its freshness
// lifetime (s-maxage, else max-age, else 0) plus the stale window (the response's
// stale-if-error=N, else the route's max_stale) has passed since it was stored.
#pragma once

#include "core/clock.hpp"
#include "http/parser.hpp"

#include <atomic>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace haven::policy {

struct Storable {
    Duration lifetime{0};    // fresh this long after it was stored
    Duration stale_window{0}; // then usable on errors this much longer
};

// Whether a response may be kept for stale-if-error, and for how long it may serve.
// `max_stale`: the stale window when the response names none.
std::optional<Storable> storable(const http::RequestHead& req, const http::ResponseHead& resp,
                                 std::uint64_t max_object, Duration max_stale);

class StaleCache {
public:
    struct Entry {
        std::string head; // status line and end-to-end fields, each ending in CRLF, without the blank line
        std::string body;
        TimePoint stored{};
        Duration usable_for{0}; // lifetime + stale window
        std::size_t bytes() const { return head.size() + body.size() + 128; } // + bookkeeping
    };

    explicit StaleCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    // Keeps `e` under `key` (replacing an older copy), evicting the least recently used copies to
    // stay within max_bytes.
    void put(const std::string& key, Entry e);
    // The copy under `key` if it may still answer at `now` (an expired one is dropped).
    const Entry* get(const std::string& key, TimePoint now);

    // Read by the control thread for the metrics while the worker writes: relaxed.
    std::size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

private:
    using Lru = std::list<std::pair<std::string, Entry>>;
    void erase(Lru::iterator it);

    std::size_t max_bytes_;
    std::atomic<std::size_t> bytes_{0};
    Lru lru_; // most recently used first
    std::unordered_map<std::string_view, Lru::iterator> map_; // keys point into lru_
};

// The cache key of a request: its Host and target.
std::string stale_key(const http::RequestHead& req);

// The head kept for a response: its status line and end-to-end fields, without hop-by-hop fields,
// framing (Content-Length, Transfer-Encoding), Date and Age, which the stale answer sets anew.
std::string stored_head(const http::ResponseHead& resp);

} // namespace haven::policy
