// Helpers shared by the config unit tests: load options that never touch DNS, and every error of
// a load as one string to match against.
#pragma once

#include "config/yaml_loader.hpp"

#include <optional>
#include <string>

namespace haven::test {

// Every host name fails to resolve, so a test never depends on the machine's resolver.
inline config::LoadOptions offline() {
    config::LoadOptions o;
    o.resolve_host = [](const std::string&) -> std::optional<std::string> { return "not found"; };
    return o;
}

// The load's errors, one per line, as haven prints them (file:line:col: key: message).
inline std::string all_errors(const config::LoadResult& r) {
    std::string out;
    for (const auto& e : r.errors) out += e.to_string() + "\n";
    return out;
}

} // namespace haven::test
