// Internal to src/config: the keys about watching haven rather than about proxying — `slo` (at
// the top level and per listener) and `admin` (observe_keys.cpp). yaml_loader.cpp lists their
// names with the other keys of their mapping and hands each here; validate.cpp calls
// check_observe_keys for the same rules on configs built in code, and for the one rule across
// items (the admin listener's address is not a data listener's).
#pragma once

#include "config/yaml_reader.hpp"

#include <vector>

namespace haven::config {

// An `slo:` mapping. Keys not written keep the value `slo` already holds: the defaults for the
// top-level one, the top-level values for a listener's.
void read_slo(Reader& reader, const Field& f, Slo& slo);

// The `admin:` mapping. Reads token_file at once and keeps its trimmed content in Admin::token.
void read_admin(Reader& reader, const Field& f, Admin& admin);

// validate(): the slo ranges (top level and listeners) and the admin listener's address.
void check_observe_keys(const Config& config, std::vector<ConfigError>& errors);

} // namespace haven::config
