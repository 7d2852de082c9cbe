// Looking up request fields by name where no HeaderId exists (a configured header or cookie
// name): for balancing keys, rate-limit keys and fault headers. Linear scans: a request holds a
// few dozen fields at most and the caller looks up one name.
#pragma once

#include "http/parser.hpp"

#include <string_view>

namespace haven::http {

// Optional whitespace removed from both ends.
std::string_view trim(std::string_view s);
// The value of the first field named `name` (case-insensitive), or empty.
std::string_view find_field(const RequestHead& req, std::string_view name);
// The value of cookie `name` in the request's Cookie fields (RFC 6265 §4.2.1: "a=1; b=2"), or empty.
std::string_view find_cookie(const RequestHead& req, std::string_view name);
// Whether one Cookie field's value holds cookie `name`; its value in `value` if so.
bool cookie_in(std::string_view field_value, std::string_view name, std::string_view& value);

} // namespace haven::http
