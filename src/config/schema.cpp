// Lookups on the plain config structs (schema.hpp).
#include "config/schema.hpp"

namespace haven::config {

// A linear scan: configs hold a handful of pools and lookups happen when building snapshots,
// not per request.
const Pool* Config::find_pool(std::string_view name) const {
    for (const auto& pool : pools) {
        if (pool.name == name) return &pool;
    }
    return nullptr;
}

} // namespace haven::config
