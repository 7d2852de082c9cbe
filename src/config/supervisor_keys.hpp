// Internal to src/config: the top-level `services:` list and a pool's `servers_from:`
// (supervisor_keys.cpp; docs/supervisor.md). As everywhere in the loader, a value is checked where
// it is read, so an error names its file:line:col and key, and a bad value is not stored.
// yaml_loader.cpp hands these keys here and, once the whole file is read, calls
// expand_servers_from (a pool may name a service written further down).
#pragma once

#include "config/yaml_reader.hpp"

namespace haven::config {

// `services:`: a list of services. Commands, working directories and users are looked up at
// once (a command that does not exist is a config error, not a crash loop at run time).
void read_services(Reader& reader, const Field& f, Supervisor& out);

// `servers_from: { service: NAME }` in the pool at `pool_index` of config.pools.
void read_servers_from(Reader& reader, const Field& f, Config& config, std::size_t pool_index);

// Gives each pool with servers_from one server per replica of its service (named like the
// replica, at host:port, `state: drain` until the supervisor finds it ready), and checks what
// spans items: the service exists and has ports, a pool does not also list servers, no two
// services (or a service and a listener) share a port.
void expand_servers_from(Reader& reader, Config& config);

} // namespace haven::config
