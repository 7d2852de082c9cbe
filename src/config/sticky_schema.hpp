// A pool's `sticky:` (docs/sessions.md): cookie persistence with HAProxy's semantics and stick
// tables. Plain structs, as in schema.hpp, with the defaults in the member initialisers.
#pragma once

#include "config/basics.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace haven::config {

// insert: haven sets the cookie; rewrite: the server sets it and haven replaces its value;
// prefix: haven prefixes the server's own cookie (e.g. JSESSIONID) with "<id>~".
enum class CookieMode { Insert, Rewrite, Prefix };
enum class SameSite { Unset, Lax, Strict, None };

struct StickyCookie {
    std::string name;                    // required
    CookieMode mode = CookieMode::Insert;
    bool indirect = false;  // insert: never forward the cookie to the server
    bool nocache = false;   // insert: a response that sets it gets "Cache-Control: private"
    bool httponly = false;
    bool secure = false;
    SameSite samesite = SameSite::Unset;
    Duration max_age{0};         // insert: 0 = a session cookie (no Max-Age)
    std::string domain;                  // insert: no Domain attribute when empty
    std::string path = "/";              // insert
    SourceLoc loc;
    bool operator==(const StickyCookie&) const = default;
};

// What a stick table keys on: the client's address, a request header, or a cookie the
// application sets (learned from the server's Set-Cookie, matched on the client's Cookie).
enum class StickOn { Source, Header, Cookie };

struct StickTableConfig {
    StickOn on = StickOn::Source;
    std::string name;                        // header or cookie name
    Duration expire{30 * 60 * 1000}; // since the entry was last used
    std::uint32_t size = 100'000;            // entries; the least recently used goes first
    bool shared = true;                      // through shared_state's Redis when configured
    SourceLoc loc;
    bool operator==(const StickTableConfig&) const = default;
};

struct Sticky {
    std::optional<StickyCookie> cookie;
    std::optional<StickTableConfig> table;
    // A sticky server that cannot take the request (down, ejected, in maintenance): true sends
    // it to another server, which then becomes the sticky one; false answers 503.
    bool redispatch = true;
    SourceLoc loc;
    bool operator==(const Sticky&) const = default;
};

} // namespace haven::config
