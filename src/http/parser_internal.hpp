// Internal to src/http: the head parser is split between parser.cpp (lines, limits and the
// incremental driver) and parser_fields.cpp (what the request-target and the recognised fields
// mean for framing, routing and the connection).
#pragma once

#include "http/parser.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace haven::http::detail {

// Case-insensitive recognition of the field names in HeaderId.
HeaderId classify_header(const char* name, std::size_t len);

// Fields that never travel past one connection (RFC 9110 §7.6.1). Transfer-Encoding is not among
// them here: haven forwards chunked bodies verbatim, so it forwards the field that announces them.
inline bool hop_by_hop(HeaderId id) {
    return id == HeaderId::Connection || id == HeaderId::KeepAlive || id == HeaderId::ProxyConnection ||
           id == HeaderId::TE || id == HeaderId::Upgrade;
}

enum class PortRule : std::uint8_t { Optional, Required };

// uri-host [ ":" port ] (RFC 3986 §3.2.2-3.2.3): a reg-name, IPv4 address or "[IPv6]" literal,
// never empty, without userinfo. Port: at most 5 digits, at most 65535.
bool valid_authority(std::string_view s, PortRule port);

// What scanning the request-target noticed, so its form can be checked without a second pass.
struct TargetMarks {
    const char* query = nullptr; // the first '?'
    bool bracket = false;        // '[' or ']' seen: legal only inside an authority
};

// Checks r.target against the form r.method allows (RFC 9112 §3.2) and sets path, query and,
// for absolute- and authority-form, host.
ParseError classify_target(RequestHead& r, const TargetMarks& m);

// Interpret the parsed fields of a complete head (headers, version, method/status already set):
// fill the framing, connection and routing facts and return the first violation, if any.
ParseError apply_request_fields(RequestHead& req);
ParseError apply_response_fields(ResponseHead& resp, Method request_method);

} // namespace haven::http::detail
