// Reads a YAML file into config::Config. Every error names the file, line, column and key path,
// e.g. "haven.yaml:14:17: pools[0].servers[1].weight: expected an integer 0..256, got \"ten\"".
// Unknown keys are errors (a typo must never silently fall back to a default).
#pragma once

#include "config/schema.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace haven::config {

struct ConfigError {
    std::string file;
    int line = 0;   // 1-based, 0 if unknown
    int column = 0; // 1-based, 0 if unknown
    std::string message;

    // "FILE:LINE:COL: message" (or "FILE: message" without a position)
    std::string to_string() const;
};

struct LoadResult {
    std::optional<Config> config; // set only when errors is empty
    std::vector<ConfigError> errors;
};

// Resolves a host name written in `listen` or `address`: nullopt when it resolves, else the
// reason (e.g. gai_strerror text). Injectable so tests and the fuzz target never touch DNS.
using HostResolver = std::function<std::optional<std::string>(const std::string& host)>;

struct LoadOptions {
    HostResolver resolve_host; // empty: getaddrinfo(AF_UNSPEC, SOCK_STREAM, AI_NUMERICSERV)
};

// Parses and validates (validate.hpp). `name` is used in messages for load_string.
// Never throws; errors are sorted by position and capped (the last one says how many were cut).
LoadResult load_file(const std::string& path);
LoadResult load_string(std::string_view yaml, const std::string& name);
LoadResult load_file(const std::string& path, const LoadOptions& options);
LoadResult load_string(std::string_view yaml, const std::string& name, const LoadOptions& options);

// "250ms", "2s", "1.5m", "1h" -> milliseconds. Returns nullopt on anything else (no bare numbers).
std::optional<Duration> parse_duration(std::string_view text);
// "64KiB", "1MiB", "512", "2GiB" (KiB/MiB/GiB = 1024^n, KB/MB/GB = 1000^n) -> bytes.
std::optional<std::uint64_t> parse_size(std::string_view text);
// "127.0.0.1:80", "[::1]:80", "localhost:80" -> Endpoint (not resolved). Port 0..65535 required.
std::optional<Endpoint> parse_endpoint(std::string_view text);

} // namespace haven::config
