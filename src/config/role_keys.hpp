// Internal to src/config: the pool keys for database roles (role, max_lag, max_lag_bytes,
// on_marked_down) and the `postgres:` kind of health check (role_keys.cpp). See
// docs/database-ha.md.
#pragma once

#include "config/yaml_reader.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace haven::config {

// True if `key` is one of the role keys (then it was read into `pool`).
bool read_pool_role_key(Reader& reader, std::string_view key, const Field& f, Pool& pool);

// health_check.postgres: { user, database, password_file, sslmode }.
void read_postgres_check(Reader& reader, const Field& f, PostgresCheck& out);

// Rules between a pool's keys that no single key shows (validate.cpp calls it for every config,
// loaded or built in code): a role needs a check that can tell it; max_lag and max_lag_bytes
// are for replica pools, and max_lag needs the postgres check (an HTTP check carries its own
// bound, Patroni's /replica?lag=).
void check_pool_roles(const Pool& p, const std::string& path,
                      const std::function<void(SourceLoc, std::string)>& add);

} // namespace haven::config
