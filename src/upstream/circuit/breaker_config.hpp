// A circuit breaker's settings as the config writes them (config::CircuitBreakerPolicy), turned
// into what the state machine and the request path use. Shared by pool breakers (PoolState) and
// route breakers (policy::PolicyStore).
#pragma once

#include "config/schema.hpp"
#include "upstream/circuit/breaker.hpp"

namespace haven::upstream {

BreakerParams breaker_params(const config::CircuitBreakerPolicy& c);
// The failure classes it counts, as config::RetryOn bits.
std::uint32_t breaker_failure_bits(const config::CircuitBreakerPolicy& c);

} // namespace haven::upstream
