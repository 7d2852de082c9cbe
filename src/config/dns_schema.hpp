// The configuration of the top-level `regions:` and `dns:` keys (docs/dns.md): plain structs, as
// in schema.hpp, filled by dns_keys.cpp. config::Config holds them behind one pointer
// (`Config::dns`, null when neither key is written) so that schema.hpp, included everywhere,
// needs no DNS types.
//
// Record data is parsed when the file is read: a DnsValue holds the fields of its type, already
// checked, with names made absolute and lower-cased, so src/dns/ only encodes and never refuses
// a value.
#pragma once

#include "config/schema.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace haven::config {

// One remote endpoint of a region: what its health check probes.
struct RegionEndpoint {
    std::string name;  // default: the address as written
    Endpoint address;
    SourceLoc loc;
};

// A named group of remote endpoints checked with the pools' health checker (the same
// `health_check` keys). The region is up while at least `min_healthy` of its endpoints are.
struct Region {
    std::string name;
    std::vector<RegionEndpoint> endpoints;
    HealthCheck health_check;
    std::uint32_t min_healthy = 1;
    // Clients (CIDRs) nearest this region, for `routing: latency` record sets.
    std::vector<std::string> clients;
    SourceLoc loc;
};

enum class DnsType : std::uint16_t { A = 1, NS = 2, CNAME = 5, SOA = 6, MX = 15, TXT = 16, AAAA = 28, SRV = 33 };
enum class DnsRouting { Simple, Failover, Weighted, Multivalue, Latency };
enum class FailoverRole { Primary, Secondary };

// One record's data, parsed. Which fields are used depends on the type: A and AAAA `address`
// (4 or 16 bytes); CNAME and NS `target`; MX `priority` (preference) and `target`; SRV
// `priority`, `weight`, `port` and `target`; TXT `strings` (each 0..255 bytes).
struct DnsValue {
    std::string text;  // as written, for the admin API and messages
    std::array<std::uint8_t, 16> address{};
    std::string target; // absolute, lower-case, no trailing dot ("" is the root)
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
    std::uint16_t port = 0;
    std::vector<std::string> strings;
};

// What decides whether a member of a record set is healthy.
struct DnsHealth {
    enum class Kind { Always, Region, Pool, Server, Check };
    Kind kind = Kind::Always;
    std::string region;                // Region
    std::string pool;                  // Pool, Server
    std::string server;                // Server
    std::optional<HealthCheck> check;  // Check: probes check_address
    Endpoint check_address;
    SourceLoc loc;
};

// A member of a record set: values answered together, and when they may be.
struct DnsMember {
    std::vector<DnsValue> values;
    FailoverRole role = FailoverRole::Primary; // failover
    std::uint32_t weight = 1;                  // weighted: 0..255; 0 is answered only if all are 0
    std::string region;                        // latency: where the values are (and their health)
    DnsHealth health;
    SourceLoc loc;
    SourceLoc region_loc;                      // of `region:`, for errors about it
};

// All records of one name and type. A simple set has one member (its `values`).
struct DnsRecordSet {
    std::string owner; // absolute, lower-case, no trailing dot
    DnsType type = DnsType::A;
    std::optional<Duration> ttl; // absent: the zone's ttl (simple) or dns.health_ttl (routed)
    DnsRouting routing = DnsRouting::Simple;
    std::vector<DnsMember> members;
    SourceLoc loc;
};

struct DnsSoa {
    std::string primary; // absolute, lower-case
    std::string admin;   // the mailbox as a name: hostmaster.example.com
    std::uint32_t serial = 1;
    Duration refresh{3'600'000};
    Duration retry{900'000};
    Duration expire{1'209'600'000};
    Duration negative_ttl{60'000}; // SOA MINIMUM: how long resolvers cache "no such name"
    SourceLoc loc;
};

struct DnsZone {
    std::string name; // absolute, lower-case, no trailing dot
    Duration ttl{3'600'000};
    DnsSoa soa;
    std::vector<DnsRecordSet> records;
    SourceLoc loc;
};

// One address served over UDP and TCP (the same port for both).
struct DnsListener {
    std::string name;
    Endpoint listen;
    SourceLoc loc;
};

// Response-rate limiting per client subnet (against reflection; UDP only).
struct DnsRrl {
    std::uint32_t responses_per_second = 200; // per subnet; 0: off
    std::uint32_t slip = 2;                   // every Nth limited response goes out truncated; 0: none
    std::uint32_t ipv4_prefix = 24;
    std::uint32_t ipv6_prefix = 56;
    std::vector<std::string> exempt;          // CIDRs never limited
    std::uint32_t max_subnets = 65'536;       // table size; the least recently seen are forgotten
    SourceLoc loc;
};

struct DnsServerConfig {
    std::vector<DnsListener> listeners;
    std::vector<DnsZone> zones;
    Duration health_ttl{10'000};            // default TTL of routed (health-driven) record sets
    std::uint32_t max_udp_payload = 1232;   // EDNS0 payload haven offers and answers within
    bool client_subnet = true;              // use EDNS Client Subnet to pick latency answers
    std::uint32_t max_tcp_connections = 256;
    Duration tcp_idle_timeout{10'000};
    DnsRrl rrl;
    SourceLoc loc;
};

struct DnsConfig {
    std::vector<Region> regions;          // `regions:`
    std::optional<DnsServerConfig> server; // `dns:`
    const Region* find_region(std::string_view name) const {
        for (const auto& r : regions) {
            if (r.name == name) return &r;
        }
        return nullptr;
    }
};

std::string_view name_of(DnsType t);
std::string_view name_of(DnsRouting r);

} // namespace haven::config
