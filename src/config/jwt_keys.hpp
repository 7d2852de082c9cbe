// Internal to src/config: the `jwt` policy of a listener or a route (docs/jwt.md), and the
// cross-check that a rate limit keyed by a claim has a JWT check to take the claim from.
//
// The loader reads the key files (PEM public keys, HMAC secrets, a JWKS) where it reads their
// names, and checks them with the same code that verifies tokens (policy/jwt/jwk.hpp), so an
// unreadable file, a PEM that is not a public key, a JWKS that does not parse, an algorithm with
// no key of its family or `none` among the algorithms is an error at the key's line. Relative
// paths are taken from the config file's directory. A reload reads the files again.
#pragma once

#include "config/yaml_reader.hpp"

#include <string>
#include <vector>

namespace haven::config {

void read_jwt(Reader& reader, const Field& f, JwtPolicy& out);

// Rules: a route's rate limit with `key: claim:NAME` (its own or its listener's) needs a `jwt`
// check on that route (its own or its listener's).
void check_claim_limit_keys(const Listener& l, const std::string& path, const std::string& file,
                            std::vector<ConfigError>& errors);

} // namespace haven::config
