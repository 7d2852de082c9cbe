// Internal to src/config: the `policies` mapping of a listener or a route (rate_limit,
// circuit_breaker, fault, fallback) and a pool's `circuit_breaker` (policy_keys.cpp).
#pragma once

#include "config/yaml_reader.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace haven::config {

void read_policies(Reader& reader, const Field& f, Policies& out);
void read_pool_breaker(Reader& reader, const Field& f, CircuitBreakerPolicy& out);
void read_resource_limits(Reader& reader, const Field& f, Pool& pool);
// A pool's `queue: { max, timeout }` (for servers with max_connections).
void read_server_queue(Reader& reader, const Field& f, Pool& pool);
// "10 per minute" -> {10, 60 s}; nullopt with `error` set otherwise.
std::optional<RateSpec> parse_rate_spec(std::string_view text, std::string& error);

} // namespace haven::config
