// HostSet: an immutable snapshot of one pool — its servers with resolved addresses and the subset
// that may take new requests now, with effective weights. Worker threads read snapshots without
// locks; the control thread (pool_state.cpp) publishes a new snapshot whenever a server's state
// changes (health, ejection, drain, slow start, reload), and each worker rebuilds its load
// balancer from it, off the request path.
#pragma once

#include "config/schema.hpp"
#include "session/sticky.hpp"
#include "upstream/circuit/breaker.hpp"
#include "upstream/circuit/resource_limits.hpp"
#include "upstream/circuit/server_slots.hpp"
#include "upstream/host.hpp"
#include "upstream/host_metrics.hpp"
#include "upstream/outlier/detector.hpp"
#include "upstream/retry/budget.hpp"
#include "upstream/retry/policy.hpp"
#include "upstream/tiers.hpp"

#include <asio/ip/tcp.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::upstream {

struct HostInfo {
    std::string name;
    std::string address_text; // as configured, e.g. "127.0.0.1:9001"
    asio::ip::tcp::endpoint endpoint;
    std::uint32_t weight = 1; // configured weight; 0 = drained
    // Where workers count this server's consecutive failures; the same object for as long as the
    // server keeps its name and address (snapshots come and go).
    std::shared_ptr<HostSignals> signals;
    std::shared_ptr<HostMetrics> metrics; // per-worker request counters, same lifetime as `signals`
    // Refused connects (HostSignals::refusals) up to this number were answered by a passing
    // check: a worker that stopped picking the server for an earlier refusal may pick it again.
    std::uint64_t refusals_cleared = 0;
    std::string tls_name; // the address's host: the name a TLS server's certificate is checked against
};

struct HostSet {
    std::uint32_t pool_id = 0; // index of the pool in the config
    std::string name;
    config::Balance balance = config::Balance::RoundRobin;
    config::HashKey hash_on;
    config::UpstreamKeepalive keepalive;
    RetryParams retry;
    RetryBudgetParams budget;
    std::vector<HostInfo> hosts;   // config order; HostIndex indexes this
    std::vector<LbEntry> eligible; // hosts that may take new requests, with effective weights
    // Usable hosts outside the serving tier, best tier first: where a retry goes once every
    // eligible host has been tried (a primary that just died but is not yet marked down must not
    // turn a retry into an error while a healthy backup waits).
    std::vector<HostIndex> fallback;
    std::int64_t tier = 0;         // priority tier in service (-1: panic or none)
    ServingMode mode = ServingMode::Normal;
    // The pool's circuit breaker (null: none): the gate the policy stage asks, the same object
    // for as long as the breaker's settings do not change. What counts as a failure for it.
    std::shared_ptr<BreakerGate> breaker;
    std::uint32_t breaker_probes = 1;
    std::uint32_t breaker_failure_on = 0; // config::RetryOn bits
    Duration breaker_slow_call{0};
    // The pool's resource caps (null: none), the same object while the caps do not change.
    std::shared_ptr<ResourceLimits> caps;
    // The servers' max_connections and the pool's queue (null: no server has a cap), the same
    // object while neither changes. queue_timeout 0: timeouts.connect.
    std::shared_ptr<ServerSlots> slots;
    Duration queue_timeout{0};
    // The pool's stickiness (null: none), the same object while its settings do not change, and
    // per host whether a request that sticks to it may go there: up, not ejected, not in
    // maintenance — drained servers keep their sticky clients (HAProxy's drain).
    std::shared_ptr<session::Stickiness> sticky;
    std::vector<std::uint8_t> sticky_ok;
    // The pool's `tls:` (null: plain TCP to its servers), the same object while it does not change.
    std::shared_ptr<const net::tls::ClientContext> tls;
    // `on_marked_down: shutdown_sessions`: per host, 1 when the connections open to it must end
    // now (down, in maintenance, or one of two servers claiming primary); empty when the pool
    // keeps them (the default without `role:`).
    std::vector<std::uint8_t> shut;
};

// The pool's static parts (names, resolved addresses, balancing and retry settings), with no
// server eligible yet. On failure returns nullopt and sets `error`.
std::optional<HostSet> describe_pool(const config::Pool& pool, std::uint32_t pool_id, std::size_t workers,
                                     std::string& error);

// Retry settings of a pool as the retry stage uses them.
RetryParams retry_params(const config::Pool& pool);

} // namespace haven::upstream
