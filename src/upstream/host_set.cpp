#include "upstream/host_set.hpp"

#include "net/address.hpp"

namespace haven::upstream {

RetryParams retry_params(const config::Pool& pool) {
    RetryParams p;
    p.retries = pool.retries;
    p.retry_on = 0;
    for (const auto& item : pool.retry_on) p.retry_on |= config::parse_retry_on(item).value_or(0);
    p.retry_non_idempotent = pool.retry_non_idempotent;
    p.retry_buffer = pool.retry_buffer;
    p.per_try_timeout = std::chrono::duration_cast<Duration>(pool.per_try_timeout);
    p.backoff_base = std::chrono::duration_cast<Duration>(pool.retry_backoff);
    p.backoff_max = p.backoff_base * 10;
    return p;
}

std::optional<HostSet> describe_pool(const config::Pool& pool, std::uint32_t pool_id, std::size_t workers,
                                     std::string& error) {
    HostSet set;
    set.pool_id = pool_id;
    set.name = pool.name;
    set.balance = pool.balance;
    set.hash_on = pool.hash_on;
    set.keepalive = pool.keepalive;
    set.retry = retry_params(pool);
    set.budget = RetryBudgetParams{pool.max_retry_ratio, pool.min_retries_per_second};
    set.hosts.reserve(pool.servers.size());
    for (const auto& s : pool.servers) {
        auto ep = net::resolve(s.address, error);
        if (!ep) {
            error = "pool " + pool.name + " server " + s.name + ": " + error;
            return std::nullopt;
        }
        HostInfo& h = set.hosts.emplace_back();
        h.name = s.name;
        h.address_text = s.address.text;
        h.endpoint = *ep;
        h.weight = s.weight;
        h.signals = std::make_shared<HostSignals>();
        h.metrics = std::make_shared<HostMetrics>(workers);
        h.tls_name = s.address.host;
    }
    if (pool.tls) set.tls = pool.tls->context;
    return set;
}

} // namespace haven::upstream
