// Internal to src/config: the top-level keys `regions:` and `dns:` (dns_keys.cpp: the schema walk;
// dns_values.cpp: names and record data; dns_check.cpp: the rules between items). yaml_loader.cpp
// lists the two names with the other top-level keys and hands each here; validate.cpp calls
// check_dns_keys, which also holds configs built in code to the same rules.
#pragma once

#include "config/dns_schema.hpp"
#include "config/yaml_reader.hpp"

#include <string_view>
#include <vector>

namespace haven::config {

// `regions` or `dns`: fills config.dns (creating it on first use).
void read_dns_key(Reader& reader, std::string_view key, const Field& f, Config& config);

// What a zone may not contain and what a record set may not refer to: duplicate sets, CNAME
// beside other data, NS below the apex, owners outside their zone, unknown regions, pools and
// servers, routing rules (one primary, distinct latency regions, ...), and the value ranges.
void check_dns_keys(const Config& config, std::vector<ConfigError>& errors);

} // namespace haven::config
