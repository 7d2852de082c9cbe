// Internal to src/config: the pool and server keys for active health checks, outlier detection,
// failover across priority tiers and retries (failover_keys.cpp). yaml_loader.cpp lists their
// names with the other keys of a pool or server and hands each such key here, which keeps the
// schema walk of the basic keys in one short file.
#pragma once

#include "config/yaml_reader.hpp"

#include <string_view>

namespace haven::config {

// One of the pool keys health_check, outlier_detection, min_healthy, all_backups, on_all_down,
// slow_start, retries, retry_on, per_try_timeout, retry_non_idempotent, retry_buffer,
// max_retry_ratio, retry_backoff.
void read_pool_failover_key(Reader& reader, std::string_view key, const Field& f, Pool& pool);

// One of the server keys backup, priority, state, health_check (the per-server overrides).
void read_server_failover_key(Reader& reader, std::string_view key, const Field& f,
                              Server& server);

} // namespace haven::config
