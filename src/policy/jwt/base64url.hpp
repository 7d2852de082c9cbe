// base64url without padding (RFC 4648 §5, as JWS uses it: RFC 7515 §2). Strict: only the
// alphabet, no '=', no whitespace, and the unused low bits of the last character must be zero
// (RFC 4648 §3.5), so a token has exactly one spelling — flipping those bits does not give a
// second token that verifies.
#pragma once

#include <string>
#include <string_view>

namespace haven::policy::jwt {

// Decodes `in`, appending to `out`. False (with `out` partly written) on anything not canonical.
bool base64url_decode(std::string_view in, std::string& out);

// The decoded length of `n` characters, or SIZE_MAX when no canonical text has that length.
std::size_t base64url_decoded_size(std::size_t n);

} // namespace haven::policy::jwt
