// The `regions:` and `dns:` keys (see dns_keys.hpp). As in yaml_loader.cpp, a value is checked
// where it is read, so the error points at it, and a bad value is not stored. A region's
// `health_check` is read by the pools' own reader (failover_keys.cpp), so it has the same keys,
// defaults and rules.
#include "config/dns_keys.hpp"

#include "config/dns_values.hpp"
#include "config/failover_keys.hpp"

#include <charconv>
#include <memory>

namespace haven::config {
namespace {

constexpr std::string_view kRegionKeys[] = {"name", "endpoints", "health_check", "min_healthy", "clients"};
constexpr std::string_view kEndpointKeys[] = {"name", "address"};
constexpr std::string_view kDnsKeys[] = {"listeners",           "zones",            "health_ttl", "max_udp_payload",
                                         "client_subnet",       "max_tcp_connections", "tcp_idle_timeout", "rrl"};
constexpr std::string_view kListenerKeys[] = {"name", "listen"};
constexpr std::string_view kRrlKeys[] = {"responses_per_second", "slip", "ipv4_prefix", "ipv6_prefix", "exempt",
                                         "max_subnets"};
constexpr std::string_view kZoneKeys[] = {"name", "ttl", "soa", "records"};
constexpr std::string_view kSoaKeys[] = {"primary", "admin", "serial", "refresh", "retry", "expire", "negative_ttl"};
constexpr std::string_view kRecordKeys[] = {"name", "type", "ttl", "routing", "values", "value", "members"};
constexpr std::string_view kMemberKeys[] = {"values", "value",  "role",         "weight",
                                            "region", "pool", "server", "health_check", "check_address"};

constexpr EnumValue kRouting[] = {{"simple", static_cast<int>(DnsRouting::Simple)},
                                  {"failover", static_cast<int>(DnsRouting::Failover)},
                                  {"weighted", static_cast<int>(DnsRouting::Weighted)},
                                  {"multivalue", static_cast<int>(DnsRouting::Multivalue)},
                                  {"latency", static_cast<int>(DnsRouting::Latency)}};
constexpr EnumValue kRoles[] = {{"primary", static_cast<int>(FailoverRole::Primary)},
                                {"secondary", static_cast<int>(FailoverRole::Secondary)}};

constexpr rules::Range kMinHealthy{1, 1000};
constexpr rules::Range kUdpPayload{512, 4096};
constexpr rules::Range kTcpConnections{1, 100'000};
constexpr rules::Range kResponsesPerSecond{0, 1'000'000};
constexpr rules::Range kSlip{0, 10};
constexpr rules::Range kIpv4Prefix{8, 32};
constexpr rules::Range kIpv6Prefix{16, 128};
constexpr rules::Range kMaxSubnets{1024, 16'777'216};
constexpr rules::Range kWeight{0, 255};
constexpr rules::Range kSerial{0, 4'294'967'295};

// The values a record set or member carries, read once its type is known.
struct PendingValues {
    std::optional<Field> values; // `values:` (a list)
    std::optional<Field> value;  // `value:` (one)
};

class DnsReader {
public:
    explicit DnsReader(Reader& r) : r_(r) {}

    void regions(const Field& f, std::vector<Region>& out) {
        r_.each_item(f, [&](std::size_t, const Field& item) { region(item, out.emplace_back()); });
    }

    void server(const Field& m, DnsServerConfig& d) {
        d.loc = r_.loc(m);
        r_.each_key(m, kDnsKeys, [&](std::string_view key, const Field& f) {
            if (key == "listeners") r_.each_item(f, [&](std::size_t, const Field& i) { listener(i, d.listeners.emplace_back()); });
            else if (key == "zones") r_.each_item(f, [&](std::size_t, const Field& i) { zones(i, d.zones); });
            else if (key == "health_ttl") ttl(f, d.health_ttl);
            else if (key == "max_udp_payload") r_.read_uint(f, kUdpPayload, d.max_udp_payload);
            else if (key == "client_subnet") r_.read_bool(f, d.client_subnet);
            else if (key == "max_tcp_connections") r_.read_uint(f, kTcpConnections, d.max_tcp_connections);
            else if (key == "tcp_idle_timeout") r_.read_duration(f, false, d.tcp_idle_timeout);
            else if (key == "rrl") rrl(f, d.rrl);
        });
    }

private:
    bool name(const Field& f, std::string& out) {
        if (!r_.read_string(f, out)) return false;
        if (!rules::is_object_name(out)) r_.error(f, "invalid name " + rules::quote(out) + " (use 1 to 128 letters, digits and - _ . : [ ])");
        return true;
    }

    void region(const Field& m, Region& g) {
        g.loc = r_.loc(m);
        bool checked = false;
        const bool ok = r_.each_key(m, kRegionKeys, [&](std::string_view key, const Field& f) {
            if (key == "name") name(f, g.name);
            else if (key == "min_healthy") r_.read_uint(f, kMinHealthy, g.min_healthy);
            else if (key == "clients") cidrs(f, g.clients);
            else if (key == "endpoints") r_.each_item(f, [&](std::size_t, const Field& i) { endpoint(i, g.endpoints); });
            else if (key == "health_check") checked = health_check(f, g.health_check);
        });
        if (!ok) return;
        if (g.name.empty()) r_.error(m, "a region needs name:");
        if (!checked) r_.error(m, "a region needs health_check: (http: or tcp:, as a pool's)");
    }

    // Rules: "HOST:PORT", or {name, address}; the name defaults to the address.
    void endpoint(const Field& item, std::vector<RegionEndpoint>& out) {
        RegionEndpoint& e = out.emplace_back();
        e.loc = r_.loc(item);
        if (item.value.IsScalar()) {
            r_.read_endpoint(item, false, e.address);
        } else {
            r_.each_key(item, kEndpointKeys, [&](std::string_view key, const Field& f) {
                if (key == "name") name(f, e.name);
                else r_.read_endpoint(f, false, e.address);
            });
            if (e.address.text.empty()) r_.error(item, "an endpoint needs address: (HOST:PORT)");
        }
        if (e.name.empty()) e.name = e.address.text;
    }

    // The pools' own reader, through a scratch pool: the same keys and rules, errors included.
    bool health_check(const Field& f, HealthCheck& out) {
        Pool scratch;
        read_pool_failover_key(r_, "health_check", f, scratch);
        if (scratch.health_check && scratch.health_check->kind == HealthCheck::Kind::Postgres) {
            r_.error(f, "a region or member is checked with http: or tcp: (postgres: is for pools)");
        }
        if (scratch.health_check) out = *scratch.health_check;
        return scratch.health_check.has_value();
    }

    void cidrs(const Field& f, std::vector<std::string>& out) {
        r_.each_item(f, [&](std::size_t, const Field& item) {
            std::string text;
            if (!r_.read_string(item, text)) return;
            if (!dns_text::parse_cidr(text)) {
                r_.error(item, "invalid address range " + rules::quote(text) + " (e.g. 10.0.0.0/8, 192.0.2.1, 2001:db8::/32)");
                return;
            }
            out.push_back(std::move(text));
        });
    }

    bool ttl(const Field& f, Duration& out) {
        const auto text = r_.scalar(f, "a TTL");
        if (!text) return false;
        std::string error;
        const auto d = dns_text::parse_ttl(*text, error);
        if (!d) {
            r_.error(f, error);
            return false;
        }
        out = *d;
        return true;
    }

    void listener(const Field& m, DnsListener& l) {
        l.loc = r_.loc(m);
        r_.each_key(m, kListenerKeys, [&](std::string_view key, const Field& f) {
            if (key == "name") name(f, l.name);
            else r_.read_endpoint(f, true, l.listen);
        });
        if (l.name.empty()) r_.error(m, "a DNS listener needs name:");
        if (l.listen.text.empty()) r_.error(m, "a DNS listener needs listen: (HOST:PORT; port 0 lets the kernel choose)");
    }

    void rrl(const Field& m, DnsRrl& rl) {
        rl.loc = r_.loc(m);
        r_.each_key(m, kRrlKeys, [&](std::string_view key, const Field& f) {
            if (key == "responses_per_second") r_.read_uint(f, kResponsesPerSecond, rl.responses_per_second);
            else if (key == "slip") r_.read_uint(f, kSlip, rl.slip);
            else if (key == "ipv4_prefix") r_.read_uint(f, kIpv4Prefix, rl.ipv4_prefix);
            else if (key == "ipv6_prefix") r_.read_uint(f, kIpv6Prefix, rl.ipv6_prefix);
            else if (key == "max_subnets") r_.read_uint(f, kMaxSubnets, rl.max_subnets);
            else if (key == "exempt") cidrs(f, rl.exempt);
        });
    }

    // A zone or record that could not be read is dropped (its errors are reported), so that
    // check_dns_keys does not report it again as something else.
    void zones(const Field& m, std::vector<DnsZone>& out) {
        if (!zone(m, out.emplace_back())) out.pop_back();
    }

    bool zone(const Field& m, DnsZone& z) {
        z.loc = r_.loc(m);
        std::optional<Field> soa_field, records;
        const bool ok = r_.each_key(m, kZoneKeys, [&](std::string_view key, const Field& f) {
            if (key == "name") zone_name(f, z.name);
            else if (key == "ttl") ttl(f, z.ttl);
            else if (key == "soa") soa_field = f;
            else records = f;
        });
        if (!ok) return false;
        // Names in the zone are relative to its name, which may come after them in the mapping.
        if (z.name.empty()) {
            if (!m.value["name"]) r_.error(m, "a zone needs name: (e.g. example.com)");
            return false;
        }
        if (soa_field) soa(*soa_field, z);
        else r_.error(m, "a zone needs soa: (at least primary: and admin:)");
        if (records) {
            r_.each_item(*records, [&](std::size_t, const Field& i) {
                if (!record(i, z, z.records.emplace_back())) z.records.pop_back();
            });
        }
        return true;
    }

    void zone_name(const Field& f, std::string& out) {
        const auto text = r_.scalar(f, "a zone name");
        if (!text) return;
        std::string error;
        if (auto n = dns_text::zone_name(*text, error)) out = std::move(*n);
        else r_.error(f, error);
    }

    bool domain(const Field& f, std::string_view origin, std::string& out) {
        const auto text = r_.scalar(f, "a name");
        if (!text) return false;
        std::string error;
        auto n = dns_text::absolute_name(*text, origin, error);
        if (!n) {
            r_.error(f, error);
            return false;
        }
        out = std::move(*n);
        return true;
    }

    void soa(const Field& m, DnsZone& z) {
        DnsSoa& s = z.soa;
        s.loc = r_.loc(m);
        const bool ok = r_.each_key(m, kSoaKeys, [&](std::string_view key, const Field& f) {
            if (key == "primary") domain(f, z.name, s.primary);
            else if (key == "admin") admin_mailbox(f, z.name, s.admin);
            else if (key == "serial") read_u32(f, kSerial, s.serial);
            else if (key == "refresh") ttl(f, s.refresh);
            else if (key == "retry") ttl(f, s.retry);
            else if (key == "expire") ttl(f, s.expire);
            else if (key == "negative_ttl") ttl(f, s.negative_ttl);
        });
        if (ok && s.primary.empty()) r_.error(m, "soa needs primary: (the zone's primary name server, e.g. ns1)");
        if (ok && s.admin.empty()) r_.error(m, "soa needs admin: (a mailbox such as hostmaster@example.com)");
    }

    // "hostmaster@example.com" is the mailbox hostmaster.example.com (RFC 1035's form also works).
    void admin_mailbox(const Field& f, std::string_view origin, std::string& out) {
        const auto text = r_.scalar(f, "a mailbox");
        if (!text) return;
        std::string written(*text);
        const auto at = written.find('@');
        if (at != std::string::npos && written != "@") written = written.substr(0, at) + "." + written.substr(at + 1) + ".";
        std::string error;
        if (auto n = dns_text::absolute_name(written, origin, error)) out = std::move(*n);
        else r_.error(f, error);
    }

    void read_u32(const Field& f, rules::Range range, std::uint32_t& out) {
        const auto text = r_.scalar(f, "a number");
        if (!text) return;
        std::uint64_t v = 0;
        const auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
        if (text->empty() || ec != std::errc() || p != text->data() + text->size() || !range.contains(v)) {
            r_.error(f, "expected an integer " + std::to_string(range.min) + ".." + std::to_string(range.max) + ", got " +
                            rules::quote(*text));
            return;
        }
        out = static_cast<std::uint32_t>(v);
    }

    bool record(const Field& m, const DnsZone& z, DnsRecordSet& rs) {
        rs.loc = r_.loc(m);
        bool typed = false, named = false;
        PendingValues pending;
        std::optional<Field> members;
        const bool ok = r_.each_key(m, kRecordKeys, [&](std::string_view key, const Field& f) {
            if (key == "name") named = domain(f, z.name, rs.owner);
            else if (key == "type") typed = type(f, rs.type);
            else if (key == "ttl") record_ttl(f, rs.ttl);
            else if (key == "routing") r_.read_enum(f, kRouting, rs.routing);
            else if (key == "values") pending.values = f;
            else if (key == "value") pending.value = f;
            else members = f;
        });
        if (!ok) return false;
        if (!named && !m.value["name"]) r_.error(m, "a record needs name: (\"@\" for the zone's own name)");
        if (!typed && !m.value["type"]) r_.error(m, "a record needs type: (A, AAAA, CNAME, TXT, MX, SRV or NS)");
        if (!named || !typed) return false;
        if (rs.routing == DnsRouting::Simple) {
            if (members) r_.error(*members, "members: are for routed record sets (routing: failover, weighted, multivalue or latency)");
            values(m, pending, rs.type, z.name, rs.members.emplace_back().values);
            rs.members.back().loc = rs.loc;
            return !rs.members.back().values.empty();
        }
        if (pending.values || pending.value) {
            r_.error(pending.values ? *pending.values : *pending.value,
                     "a record with routing: " + std::string(name_of(rs.routing)) + " lists its values under members:");
        }
        if (!members) {
            r_.error(m, "routing: " + std::string(name_of(rs.routing)) + " needs members:");
            return false;
        }
        r_.each_item(*members, [&](std::size_t, const Field& i) { member(i, rs, z.name, rs.members.emplace_back()); });
        if (members->value.IsSequence() && members->value.size() == 0) r_.error(*members, "must list at least one member");
        return !rs.members.empty();
    }

    void record_ttl(const Field& f, std::optional<Duration>& out) {
        Duration d{0};
        if (ttl(f, d)) out = d;
    }

    bool type(const Field& f, DnsType& out) {
        const auto text = r_.scalar(f, "a record type");
        if (!text) return false;
        const auto t = dns_text::parse_type(*text);
        if (!t || *t == DnsType::SOA) {
            r_.error(f, *text == "SOA" ? "SOA is written as the zone's soa: mapping"
                                       : "unsupported record type " + rules::quote(*text) +
                                             " (A, AAAA, CNAME, TXT, MX, SRV or NS, in capitals)");
            return false;
        }
        out = *t;
        return true;
    }

    // Rules: `values:` (a list) or `value:` (one), not both; at least one value; a CNAME has one.
    void values(const Field& owner, const PendingValues& p, DnsType t, std::string_view origin, std::vector<DnsValue>& out) {
        if (p.values && p.value) r_.error(*p.value, "write values: or value:, not both");
        const auto one = [&](const Field& f) {
            const auto text = r_.scalar(f, "a record value");
            if (!text) return;
            std::string error;
            if (auto v = dns_text::parse_value(t, *text, origin, error)) out.push_back(std::move(*v));
            else r_.error(f, error);
        };
        if (p.value) one(*p.value);
        else if (p.values) r_.each_item(*p.values, [&](std::size_t, const Field& i) { one(i); });
        if (!p.value && !p.values) r_.error(owner, "needs values: (or value:)");
        else if (p.values && p.values->value.IsSequence() && p.values->value.size() == 0) r_.error(*p.values, "must list at least one value");
        if (t == DnsType::CNAME && out.size() > 1) {
            r_.error(p.values ? *p.values : owner, "a CNAME has exactly one value (a name has one canonical name)");
        }
    }

    void member(const Field& m, const DnsRecordSet& rs, std::string_view origin, DnsMember& mb) {
        mb.loc = r_.loc(m);
        PendingValues pending;
        std::optional<Field> role;
        std::vector<std::pair<std::string, Field>> sources;
        const bool ok = r_.each_key(m, kMemberKeys, [&](std::string_view key, const Field& f) {
            if (key == "values") {
                pending.values = f;
            } else if (key == "value") {
                pending.value = f;
            } else if (key == "role") {
                role = f;
                r_.read_enum(f, kRoles, mb.role);
            } else if (key == "weight") {
                weight(f, rs.routing, mb.weight);
            } else if (key != "region" || r_.read_string(f, mb.region)) {
                if (key == "region") mb.region_loc = r_.loc(f);
                sources.emplace_back(std::string(key), f);
            }
        });
        if (!ok) return;
        values(m, pending, rs.type, origin, mb.values);
        if (rs.routing == DnsRouting::Failover && !role) r_.error(m, "a failover member needs role: primary or secondary");
        if (rs.routing != DnsRouting::Failover && role) r_.error(*role, "role: applies to routing: failover");
        if (rs.routing == DnsRouting::Latency && mb.region.empty()) r_.error(m, "a latency member needs region: (where its values are)");
        health(m, rs.routing, sources, mb);
    }

    void weight(const Field& f, DnsRouting routing, std::uint32_t& out) {
        if (routing != DnsRouting::Weighted) {
            r_.error(f, "weight: applies to routing: weighted");
            return;
        }
        r_.read_uint(f, kWeight, out);
    }

    // Rules: at most one of region, pool, server, health_check decides health (for latency,
    // region says where the values are and decides health unless another of them is written);
    // health_check comes with check_address and the other way round; server is "POOL/SERVER".
    void health(const Field& m, DnsRouting routing, const std::vector<std::pair<std::string, Field>>& sources,
                DnsMember& mb) {
        DnsHealth& h = mb.health;
        std::optional<Field> check, address;
        std::vector<std::string_view> deciders;
        for (const auto& [key, f] : sources) {
            if (key == "check_address") address = f;
            else if (key == "health_check") check = f;
            if (key == "check_address" || (key == "region" && routing == DnsRouting::Latency)) continue;
            deciders.push_back(key);
            h.loc = r_.loc(f);
            if (key == "region") {
                h.kind = DnsHealth::Kind::Region;
                h.region = mb.region;
            } else if (key == "pool") {
                h.kind = DnsHealth::Kind::Pool;
                r_.read_string(f, h.pool);
            } else if (key == "server") {
                server_ref(f, h);
            } else if (key == "health_check") {
                h.kind = DnsHealth::Kind::Check;
                health_check(f, h.check.emplace());
            }
        }
        if (deciders.size() > 1) {
            r_.error(m, "one of region, pool, server or health_check decides a member's health; this one has " +
                            std::string(deciders[0]) + " and " + std::string(deciders[1]));
        }
        if (check && !address) r_.error(*check, "a member's own health_check needs check_address: (HOST:PORT to probe)");
        if (address && !check) r_.error(*address, "check_address: goes with a health_check:");
        if (address) r_.read_endpoint(*address, false, h.check_address);
        // A latency member without region: is refused in member(); no second error about it here.
        if (h.kind == DnsHealth::Kind::Always && routing == DnsRouting::Latency && !mb.region.empty()) {
            h.kind = DnsHealth::Kind::Region;
            h.region = mb.region;
            h.loc = mb.region_loc;
        }
    }

    void server_ref(const Field& f, DnsHealth& h) {
        std::string text;
        if (!r_.read_string(f, text)) return;
        const auto slash = text.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) {
            r_.error(f, "expected POOL/SERVER (e.g. web/web1), got " + rules::quote(text));
            return;
        }
        h.kind = DnsHealth::Kind::Server;
        h.pool = text.substr(0, slash);
        h.server = text.substr(slash + 1);
    }


    Reader& r_;
};

} // namespace

void read_dns_key(Reader& reader, std::string_view key, const Field& f, Config& config) {
    auto next = config.dns ? std::make_shared<DnsConfig>(*config.dns) : std::make_shared<DnsConfig>();
    if (key == "regions") DnsReader(reader).regions(f, next->regions);
    else DnsReader(reader).server(f, next->server.emplace());
    config.dns = std::move(next);
}

} // namespace haven::config
