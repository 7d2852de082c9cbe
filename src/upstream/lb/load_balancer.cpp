// The factory that maps a pool's configured `balance` to its algorithm.
#include "upstream/lb/load_balancer.hpp"

namespace haven::upstream {

std::unique_ptr<LoadBalancer> make_load_balancer(config::Balance algorithm, const ActiveCounts& active,
                                                 Random& random) {
    switch (algorithm) {
    case config::Balance::RoundRobin: return make_round_robin();
    case config::Balance::LeastConn: return make_least_conn(active);
    case config::Balance::Random2: return make_p2c(active, random);
    case config::Balance::Hash: return make_maglev();
    }
    return make_round_robin(); // not reached: the switch covers every value and -Wswitch checks it
}

} // namespace haven::upstream
