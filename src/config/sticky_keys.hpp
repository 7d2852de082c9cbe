// Internal to src/config: a pool's `sticky:` mapping, a server's `cookie:` and the top-level
// `shared_state:` (sticky_keys.cpp).
// yaml_loader.cpp lists the names with the other pool and server keys and hands them here;
// validate.cpp calls check_sticky_keys, which also holds configs built in code to the rules.
#pragma once

#include "config/yaml_reader.hpp"

#include <vector>

namespace haven::config {

void read_pool_sticky(Reader& reader, const Field& f, Sticky& out);
// The top-level `shared_state:`.
void read_shared_state(Reader& reader, const Field& f, SharedState& out);
// A server's `cookie:` value: cookie-octets (RFC 6265 §4.1.1), at most 64, no '~'.
void read_server_cookie(Reader& reader, const Field& f, std::string& out);

// Between keys and items: a sticky mapping with neither cookie nor table, insert-only attributes
// in another mode, SameSite=None without Secure, a server `cookie:` in a pool without a sticky
// cookie, two servers of a pool with the same cookie value.
void check_sticky_keys(const Config& config, std::vector<ConfigError>& errors);

// Whether `value` may stand as a cookie value haven writes: 1..64 cookie-octets, no '~'.
bool is_sticky_cookie_value(std::string_view value);

} // namespace haven::config
