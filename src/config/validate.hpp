// Cross-field checks that a single key cannot express: names are unique, every route names an
// existing pool, listeners do not collide, a tcp listener has a pool and no routes, hash_on is
// used only with balance: hash, a server overrides a health_check only in a pool that has one,
// and so on. Each error points at the offending item's location.
#pragma once

#include "config/yaml_loader.hpp"

namespace haven::config {

std::vector<ConfigError> validate(const Config& config);

} // namespace haven::config
