// ZoneData: the zones of one configuration compiled for answering — every name in wire form in
// one hash table, each record's data pre-encoded, and the routed (health-driven) record sets with
// the health source each member follows. Built on the control thread at start and on each reload
// (it cannot fail: the config loader refused everything it could not serve), then shared
// read-only with the DNS thread.
#pragma once

#include "config/dns_schema.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace haven::dns {

// One record's data in wire form, split around the names in it so that those go through the
// response's compression table.
struct Rdata {
    std::string fixed;     // what comes before the names (or all of it, for A, AAAA, TXT)
    std::string name1;     // wire-form names; empty: none
    std::string name2;
    std::string tail;      // what comes after the names (SOA's serial and timers)
    bool compress = true;  // SRV targets are never compressed (RFC 2782)
    std::string text;      // as configured, for the admin API
};

// Where a member's health comes from. Members that follow the same region, pool or server share
// one source.
struct HealthSource {
    config::DnsHealth::Kind kind = config::DnsHealth::Kind::Always;
    std::string name;  // Region: the region; Pool: the pool; Server: "POOL/SERVER"; Check: its group name
    std::string label; // for events and the admin API: "region eu", "pool web", "check 127.0.0.2:80"
    std::optional<config::HealthCheck> check; // Check
    config::Endpoint address;                 // Check
};
inline constexpr std::uint32_t kAlwaysHealthy = UINT32_MAX;

struct Member {
    std::vector<Rdata> values;
    std::uint32_t weight = 1;
    config::FailoverRole role = config::FailoverRole::Primary;
    std::int32_t region = -1;              // latency: index into ZoneData::regions
    std::uint32_t source = kAlwaysHealthy; // index into ZoneData::sources
    std::string label;                     // "us", "pool web", ... ("answers now us")
};

struct RoutedSet {
    config::DnsRouting routing = config::DnsRouting::Failover;
    std::vector<Member> members;
    std::string label; // "app.example.com A"
};

struct RRSet {
    std::uint16_t type = 0;
    std::uint32_t ttl = 0;
    std::vector<Rdata> rdata;  // a simple set's records
    std::int32_t routed = -1;  // index into ZoneData::routed; its members hold the records
};

struct Node {
    std::string owner;                 // lower-case wire form
    std::uint32_t zone = 0;
    std::vector<std::uint32_t> rrsets; // empty: an empty non-terminal (names below, none here)
};

struct ZoneInfo {
    std::string apex; // wire form
    std::string name; // text
    Rdata soa;
    std::uint32_t soa_ttl = 0;
    std::uint32_t negative_ttl = 0; // the SOA's TTL in negative answers: min(TTL, MINIMUM) (RFC 2308)
    std::uint32_t serial = 0;
    std::size_t record_sets = 0;
};

// Client address ranges mapped to the region they are nearest (regions[].clients).
struct ClientRange {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};
    std::uint8_t prefix = 0;
    std::int32_t region = -1;
};
struct RegionMatch {
    std::int32_t region = -1;
    std::uint8_t prefix = 0;
};

struct ServerOptions {
    std::uint16_t max_udp_payload = 1232;
    bool client_subnet = true;
    std::uint32_t max_tcp_connections = 256;
    std::chrono::milliseconds tcp_idle_timeout{10'000};
    config::DnsRrl rrl;
};

class ZoneData {
public:
    static std::shared_ptr<const ZoneData> build(const config::DnsConfig& config);

    const Node* find(std::string_view wire) const;
    // The served zone `wire` falls in (its longest apex suffix), or null.
    const ZoneInfo* zone_of(std::string_view wire) const;
    const RRSet* rrset(const Node& node, std::uint16_t type) const;
    // The longest client range holding the address (16 bytes for IPv6, 4 for IPv4).
    RegionMatch region_of(bool v6, const std::uint8_t* address) const;

    std::vector<ZoneInfo> zones;
    std::vector<Node> nodes;
    std::vector<RRSet> rrsets;
    std::vector<RoutedSet> routed;
    std::vector<HealthSource> sources;
    std::vector<std::string> regions; // every configured region, by index
    std::vector<ClientRange> client_ranges; // longest prefix first
    ServerOptions options;

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Index = std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>>;
    friend class ZoneBuilder;
    Index by_name_;
    Index by_apex_;
};

} // namespace haven::dns
