// The text forms of DNS names and record data (see dns_values.hpp). Only presentation forms a
// person writes in a YAML file are accepted: no escapes (\DDD), no wildcards, no quoting rules of
// zone files; what is refused says what was expected.
#include "config/dns_values.hpp"

#include "config/value_rules.hpp"
#include "config/yaml_loader.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <sstream>

namespace haven::config::dns_text {
namespace {

constexpr std::size_t kMaxWireName = 255;
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxTxtString = 255;
constexpr std::int64_t kMaxTtlMs = rules::kMaxDurationMs;

bool label_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

// Rules: labels separated by single dots, each 1..63 label characters; "*" is refused by name.
bool check_labels(std::string_view name, std::string& error) {
    std::size_t start = 0;
    while (start <= name.size()) {
        const auto dot = name.find('.', start);
        const auto label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty()) {
            error = "empty label in " + rules::quote(name) + " (two dots in a row, or a leading dot)";
            return false;
        }
        if (label == "*") {
            error = "wildcard names are not supported (" + rules::quote(name) + ")";
            return false;
        }
        if (label.size() > kMaxLabel) {
            error = "label " + rules::quote(label) + " is longer than 63 characters";
            return false;
        }
        for (char c : label) {
            if (!label_char(c)) {
                error = "invalid character " + rules::quote(std::string_view(&c, 1)) + " in name " + rules::quote(name) +
                        " (letters, digits, '-' and '_')";
                return false;
            }
        }
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The absolute text name (no trailing dot, "" = root) if it fits in 255 bytes of wire format.
std::optional<std::string> finish(std::string name, std::string& error) {
    // Wire length: one length byte per label plus its characters, plus the root's zero byte;
    // for a dotted text name that is its length + 2.
    if (!name.empty() && name.size() + 2 > kMaxWireName) {
        error = "name " + rules::quote(name) + " is longer than 255 bytes";
        return std::nullopt;
    }
    return name;
}

template <class T>
bool number(std::string_view text, T& out) {
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc() && p == text.data() + text.size();
}

std::vector<std::string> words(std::string_view text) {
    std::istringstream in{std::string(text)};
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(std::move(w));
    return out;
}

bool target(std::string_view text, std::string_view origin, DnsValue& v, std::string& error) {
    auto name = absolute_name(text, origin, error);
    if (!name) return false;
    v.target = std::move(*name);
    return true;
}

// Rules: MX "PREFERENCE NAME"; SRV "PRIORITY WEIGHT PORT NAME"; numbers 0..65535.
bool mx_or_srv(DnsType type, std::string_view text, std::string_view origin, DnsValue& v, std::string& error) {
    const auto w = words(text);
    const bool mx = type == DnsType::MX;
    const std::size_t want = mx ? 2 : 4;
    const char* form = mx ? "\"PREFERENCE NAME\" (e.g. \"10 mail.example.com.\")"
                          : "\"PRIORITY WEIGHT PORT NAME\" (e.g. \"10 60 5060 sip.example.com.\")";
    if (w.size() != want) {
        error = "expected " + std::string(form) + ", got " + rules::quote(text);
        return false;
    }
    std::uint16_t* fields[3] = {&v.priority, &v.weight, &v.port};
    for (std::size_t i = 0; i + 1 < want; ++i) {
        if (!number(w[i], *fields[i])) {
            error = "expected a number from 0 to 65535, got " + rules::quote(w[i]) + " in " + rules::quote(text);
            return false;
        }
    }
    return target(w.back(), origin, v, error);
}

} // namespace

std::optional<std::string> absolute_name(std::string_view text, std::string_view origin, std::string& error) {
    if (text == "@") return std::string(origin);
    if (text == ".") return std::string();
    if (text.empty()) {
        error = "empty name (use \"@\" for the zone's own name)";
        return std::nullopt;
    }
    const bool absolute = text.back() == '.';
    const auto bare = absolute ? text.substr(0, text.size() - 1) : text;
    if (!check_labels(bare, error)) return std::nullopt;
    std::string name = lower(bare);
    if (!absolute && !origin.empty()) name += "." + std::string(origin);
    return finish(std::move(name), error);
}

std::optional<std::string> zone_name(std::string_view text, std::string& error) {
    if (text.empty() || text == "." || text == "@") {
        error = "a zone needs a name such as example.com (serving the root is not supported)";
        return std::nullopt;
    }
    const auto bare = text.back() == '.' ? text.substr(0, text.size() - 1) : text;
    if (!check_labels(bare, error)) return std::nullopt;
    return finish(lower(bare), error);
}

bool in_zone(std::string_view name, std::string_view zone) {
    if (zone.empty() || name == zone) return true;
    return name.size() > zone.size() && name.ends_with(zone) && name[name.size() - zone.size() - 1] == '.';
}

std::optional<DnsType> parse_type(std::string_view text) {
    static constexpr std::pair<std::string_view, DnsType> kTypes[] = {
        {"A", DnsType::A},   {"AAAA", DnsType::AAAA}, {"CNAME", DnsType::CNAME}, {"NS", DnsType::NS},
        {"MX", DnsType::MX}, {"TXT", DnsType::TXT},   {"SRV", DnsType::SRV},     {"SOA", DnsType::SOA}};
    for (const auto& [name, type] : kTypes) {
        if (name == text) return type;
    }
    return std::nullopt;
}

std::optional<Duration> parse_ttl(std::string_view text, std::string& error) {
    std::uint64_t seconds = 0;
    if (number(text, seconds)) {
        if (seconds > static_cast<std::uint64_t>(kMaxTtlMs / 1000)) {
            error = "TTL " + rules::quote(text) + " is longer than 8760h (31536000 seconds)";
            return std::nullopt;
        }
        return Duration(static_cast<std::int64_t>(seconds) * 1000);
    }
    const auto parsed = rules::parse_duration_detail(text);
    if (parsed.problem != rules::Problem::None) {
        error = "expected a TTL in seconds (300) or a duration (5m, 1h), up to 8760h; got " + rules::quote(text);
        return std::nullopt;
    }
    if (parsed.value.count() % 1000 != 0) {
        error = "a TTL is whole seconds, got " + rules::quote(text);
        return std::nullopt;
    }
    return parsed.value;
}

std::optional<DnsValue> parse_value(DnsType type, std::string_view text, std::string_view origin, std::string& error) {
    DnsValue v;
    v.text = std::string(text);
    bool ok = false;
    switch (type) {
    case DnsType::A:
        ok = inet_pton(AF_INET, v.text.c_str(), v.address.data()) == 1;
        if (!ok) error = "expected an IPv4 address such as 192.0.2.1, got " + rules::quote(text);
        break;
    case DnsType::AAAA:
        ok = inet_pton(AF_INET6, v.text.c_str(), v.address.data()) == 1;
        if (!ok) error = "expected an IPv6 address such as 2001:db8::1, got " + rules::quote(text);
        break;
    case DnsType::CNAME:
    case DnsType::NS: ok = target(text, origin, v, error); break;
    case DnsType::MX:
    case DnsType::SRV: ok = mx_or_srv(type, text, origin, v, error); break;
    case DnsType::TXT:
        // A long text is split into 255-byte character-strings, as SPF and DKIM records expect.
        for (std::size_t i = 0; i < text.size(); i += kMaxTxtString) v.strings.emplace_back(text.substr(i, kMaxTxtString));
        if (text.empty()) v.strings.emplace_back();
        ok = true;
        break;
    case DnsType::SOA: error = "SOA is written as the zone's soa: mapping, not as a record"; break;
    }
    if (!ok) return std::nullopt;
    return v;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    const std::string addr(text.substr(0, slash));
    Cidr c;
    if (inet_pton(AF_INET, addr.c_str(), c.bytes.data()) == 1) {
        c.v6 = false;
    } else if (inet_pton(AF_INET6, addr.c_str(), c.bytes.data()) == 1) {
        c.v6 = true;
    } else {
        return std::nullopt;
    }
    const std::uint32_t max = c.v6 ? 128 : 32;
    c.prefix = max;
    if (slash != std::string_view::npos && (!number(text.substr(slash + 1), c.prefix) || c.prefix > max)) {
        return std::nullopt;
    }
    return c;
}

} // namespace haven::config::dns_text

namespace haven::config {

std::string_view name_of(DnsType t) {
    switch (t) {
    case DnsType::A: return "A";
    case DnsType::NS: return "NS";
    case DnsType::CNAME: return "CNAME";
    case DnsType::SOA: return "SOA";
    case DnsType::MX: return "MX";
    case DnsType::TXT: return "TXT";
    case DnsType::AAAA: return "AAAA";
    case DnsType::SRV: return "SRV";
    }
    return "?";
}

std::string_view name_of(DnsRouting r) {
    switch (r) {
    case DnsRouting::Simple: return "simple";
    case DnsRouting::Failover: return "failover";
    case DnsRouting::Weighted: return "weighted";
    case DnsRouting::Multivalue: return "multivalue";
    case DnsRouting::Latency: return "latency";
    }
    return "?";
}

} // namespace haven::config
