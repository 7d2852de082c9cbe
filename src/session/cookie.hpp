// src/session: session persistence — the sticky cookie (this file), stick tables
// (stick_table.hpp) and a pool's stickiness as the data plane uses it (sticky.hpp).
//
// The cookie functions here are pure text work on a request's or response's fields; the
// pick and respond stages call them. A cookie value names a server by an opaque id: the server's
// `cookie:` if set, else 12 hex digits of a SHA-256 of the pool's and the server's names, so it
// is the same across reloads and across haven instances with the same config and tells nothing
// of the server's address.
#pragma once

#include "config/sticky_schema.hpp"
#include "http/parser.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace haven::session {

std::string derived_cookie_value(std::string_view pool, std::string_view server);

// The field lines haven adds in insert mode to a response from the server with cookie value
// `value`: "Set-Cookie: NAME=value; Path=/; ...\r\n", then "Cache-Control: private\r\n" with nocache.
std::string insert_lines(const config::StickyCookie& cookie, std::string_view value);

// The server id a request's cookie value carries: the value itself, or in prefix mode the part
// before '~' (empty when there is none: the server's own cookie, not yet prefixed).
std::string_view id_in_value(config::CookieMode mode, std::string_view value);

// Fields rewritten for one message: a copy of its fields with the changed ones pointing into
// `lines`. Pooled with the request, so warm requests reuse the memory.
struct FieldScratch {
    std::vector<http::Header> headers;
    std::string lines;
    void clear() {
        headers.clear();
        lines.clear();
    }
};

// The request as forwarded: in insert mode with `indirect`, without the sticky cookie; in prefix
// mode, with "id~" taken off the cookie's value. False when nothing changes (the fields are
// forwarded as they are); otherwise `out` holds the fields to send.
bool rewrite_request_cookies(std::span<const http::Header> fields, const config::StickyCookie& cookie, FieldScratch& out);

// The response as sent: the server's Set-Cookie for the cookie's name with its value replaced by
// `id` (rewrite mode) or prefixed with "id~" (prefix mode), attributes kept. False when the
// response sets no such cookie.
bool rewrite_response_cookies(std::span<const http::Header> fields, const config::StickyCookie& cookie,
                              std::string_view id, FieldScratch& out);

// The value a response's Set-Cookie gives cookie `name`, or empty (stick tables' learn mode).
std::string_view set_cookie_value(std::span<const http::Header> fields, std::string_view name);

} // namespace haven::session
