// Internal to src/config (and its tests): the text forms of DNS names, record types, TTLs and
// record data, as written in `dns.zones` (dns_keys.cpp). Each parser returns the checked value or
// nullopt with `error` saying why, in words that make sense after "haven.yaml:12:7: key: ".
#pragma once

#include "config/dns_schema.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace haven::config::dns_text {

// A name as written in a zone: "@" is the origin, a name ending in "." is absolute, any other is
// relative to the origin ("www" in example.com is www.example.com). Labels of 1..63 letters,
// digits, '-' and '_' (service labels such as _sip._tcp), at most 255 bytes on the wire. The
// result is lower-case without the trailing dot; the root is "".
std::optional<std::string> absolute_name(std::string_view text, std::string_view origin, std::string& error);
// A zone's own name: absolute whether or not it ends in ".", not the root.
std::optional<std::string> zone_name(std::string_view text, std::string& error);
// `name` is `zone` or below it.
bool in_zone(std::string_view name, std::string_view zone);

std::optional<DnsType> parse_type(std::string_view text);

// A TTL: whole seconds written as a bare number ("300") or a duration ("5m"), 0 to 8760h.
std::optional<Duration> parse_ttl(std::string_view text, std::string& error);

// One record's data in presentation form: A "192.0.2.1", AAAA "2001:db8::1", CNAME and NS a name,
// MX "10 mail", SRV "10 60 5060 sip", TXT any text (split into 255-byte strings). Names are
// relative to `origin` as in absolute_name. SOA is not a record value (zones have `soa:`).
std::optional<DnsValue> parse_value(DnsType type, std::string_view text, std::string_view origin, std::string& error);

// "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" (a host): address family, bytes and prefix length.
struct Cidr {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};
    std::uint32_t prefix = 0;
};
std::optional<Cidr> parse_cidr(std::string_view text);

} // namespace haven::config::dns_text
