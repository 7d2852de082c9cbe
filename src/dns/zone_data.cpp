// Compiling the `dns:` configuration into ZoneData (see zone_data.hpp).
#include "dns/zone_data.hpp"

#include "config/dns_values.hpp"
#include "dns/message.hpp"

#include <algorithm>
#include <cstring>
#include <map>

namespace haven::dns {
namespace {

std::uint32_t seconds(config::Duration d) { return static_cast<std::uint32_t>(d.count() / 1000); }

void put16(std::string& out, std::uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

void put32(std::string& out, std::uint32_t v) {
    put16(out, static_cast<std::uint16_t>(v >> 16));
    put16(out, static_cast<std::uint16_t>(v));
}

Rdata encode(config::DnsType type, const config::DnsValue& v) {
    Rdata r;
    r.text = v.text;
    const auto* a = reinterpret_cast<const char*>(v.address.data());
    switch (type) {
    case config::DnsType::A: r.fixed.assign(a, 4); break;
    case config::DnsType::AAAA: r.fixed.assign(a, 16); break;
    case config::DnsType::CNAME:
    case config::DnsType::NS: r.name1 = to_wire(v.target); break;
    case config::DnsType::MX:
        put16(r.fixed, v.priority);
        r.name1 = to_wire(v.target);
        break;
    case config::DnsType::SRV:
        put16(r.fixed, v.priority);
        put16(r.fixed, v.weight);
        put16(r.fixed, v.port);
        r.name1 = to_wire(v.target);
        r.compress = false;
        break;
    case config::DnsType::TXT:
        for (const auto& s : v.strings) {
            r.fixed.push_back(static_cast<char>(s.size()));
            r.fixed += s;
        }
        break;
    case config::DnsType::SOA: break; // zones' SOA records are built from soa: (soa_rdata)
    }
    return r;
}

Rdata soa_rdata(const config::DnsZone& z) {
    Rdata r;
    r.name1 = to_wire(z.soa.primary);
    r.name2 = to_wire(z.soa.admin);
    put32(r.tail, z.soa.serial);
    put32(r.tail, seconds(z.soa.refresh));
    put32(r.tail, seconds(z.soa.retry));
    put32(r.tail, seconds(z.soa.expire));
    put32(r.tail, seconds(z.soa.negative_ttl));
    r.text = z.soa.primary + ". " + z.soa.admin + ". " + std::to_string(z.soa.serial);
    return r;
}

// The name one label up: "\3www\7example\3com\0" -> "\7example\3com\0".
std::string_view parent(std::string_view wire) { return wire.substr(1 + static_cast<std::uint8_t>(wire[0])); }

std::string joined_values(const config::DnsMember& m) {
    std::string out;
    for (const auto& v : m.values) out += (out.empty() ? "" : ",") + v.text;
    return out;
}

} // namespace

class ZoneBuilder {
public:
    ZoneBuilder(const config::DnsConfig& c, ZoneData& d) : c_(c), d_(d) {}

    void build() {
        for (const auto& r : c_.regions) d_.regions.push_back(r.name);
        clients();
        if (!c_.server) return;
        const auto& s = *c_.server;
        d_.options = ServerOptions{static_cast<std::uint16_t>(s.max_udp_payload), s.client_subnet, s.max_tcp_connections,
                                   s.tcp_idle_timeout, s.rrl};
        for (const auto& z : s.zones) zone(z, s);
    }

private:
    void clients() {
        for (std::size_t i = 0; i < c_.regions.size(); ++i) {
            for (const auto& text : c_.regions[i].clients) {
                const auto cidr = config::dns_text::parse_cidr(text);
                if (!cidr) continue; // refused by the loader
                d_.client_ranges.push_back(
                    ClientRange{cidr->v6, cidr->bytes, static_cast<std::uint8_t>(cidr->prefix), static_cast<std::int32_t>(i)});
            }
        }
        std::stable_sort(d_.client_ranges.begin(), d_.client_ranges.end(),
                         [](const ClientRange& a, const ClientRange& b) { return a.prefix > b.prefix; });
    }

    void zone(const config::DnsZone& z, const config::DnsServerConfig& s) {
        const auto index = static_cast<std::uint32_t>(d_.zones.size());
        ZoneInfo& info = d_.zones.emplace_back();
        info.apex = to_wire(z.name);
        info.name = z.name;
        info.soa = soa_rdata(z);
        info.soa_ttl = seconds(z.ttl);
        info.negative_ttl = std::min(seconds(z.ttl), seconds(z.soa.negative_ttl));
        info.serial = z.soa.serial;
        info.record_sets = z.records.size() + 1;
        d_.by_apex_.emplace(info.apex, index);
        const std::uint32_t apex = node(info.apex, index);
        add_rrset(apex, RRSet{rr::SOA, info.soa_ttl, {info.soa}, -1});
        for (const auto& rs : z.records) record_set(rs, z, s, index);
    }

    // The node of `wire`, created with the empty non-terminals between it and the apex.
    std::uint32_t node(const std::string& wire, std::uint32_t zone) {
        if (auto it = d_.by_name_.find(wire); it != d_.by_name_.end()) return it->second;
        const auto index = static_cast<std::uint32_t>(d_.nodes.size());
        d_.nodes.push_back(Node{wire, zone, {}});
        d_.by_name_.emplace(wire, index);
        if (wire != d_.zones[zone].apex && wire.size() > 1) node(std::string(parent(wire)), zone);
        return index;
    }

    void add_rrset(std::uint32_t node_index, RRSet set) {
        d_.nodes[node_index].rrsets.push_back(static_cast<std::uint32_t>(d_.rrsets.size()));
        d_.rrsets.push_back(std::move(set));
    }

    void record_set(const config::DnsRecordSet& rs, const config::DnsZone& z, const config::DnsServerConfig& s,
                    std::uint32_t zone) {
        const bool routed = rs.routing != config::DnsRouting::Simple;
        RRSet set;
        set.type = static_cast<std::uint16_t>(rs.type);
        set.ttl = seconds(rs.ttl.value_or(routed ? s.health_ttl : z.ttl));
        const std::string label = rs.owner + " " + std::string(config::name_of(rs.type));
        if (!routed) {
            for (const auto& v : rs.members.front().values) set.rdata.push_back(encode(rs.type, v));
        } else {
            set.routed = static_cast<std::int32_t>(d_.routed.size());
            RoutedSet& r = d_.routed.emplace_back();
            r.routing = rs.routing;
            r.label = label;
            for (std::size_t k = 0; k < rs.members.size(); ++k) r.members.push_back(member(rs, k, label));
        }
        add_rrset(node(to_wire(rs.owner), zone), std::move(set));
    }

    Member member(const config::DnsRecordSet& rs, std::size_t k, const std::string& set_label) {
        const config::DnsMember& m = rs.members[k];
        Member out;
        for (const auto& v : m.values) out.values.push_back(encode(rs.type, v));
        out.weight = m.weight;
        out.role = m.role;
        if (!m.region.empty()) {
            const auto it = std::find(d_.regions.begin(), d_.regions.end(), m.region);
            if (it != d_.regions.end()) out.region = static_cast<std::int32_t>(it - d_.regions.begin());
        }
        out.source = source(m.health, set_label + " #" + std::to_string(k + 1));
        out.label = out.source == kAlwaysHealthy ? joined_values(m)
                    : m.health.kind == config::DnsHealth::Kind::Region ? m.health.region
                                                                       : d_.sources[out.source].label;
        return out;
    }

    std::uint32_t source(const config::DnsHealth& h, const std::string& member_label) {
        using Kind = config::DnsHealth::Kind;
        HealthSource src;
        src.kind = h.kind;
        switch (h.kind) {
        case Kind::Always: return kAlwaysHealthy;
        case Kind::Region:
            src.name = h.region;
            src.label = "region " + h.region;
            break;
        case Kind::Pool:
            src.name = h.pool;
            src.label = "pool " + h.pool;
            break;
        case Kind::Server:
            src.name = h.pool + "/" + h.server;
            src.label = "server " + src.name;
            break;
        case Kind::Check:
            // Each member's own check is a group of its own, known by the member.
            src.name = "check " + member_label;
            src.label = "check " + h.check_address.text;
            src.check = h.check;
            src.address = h.check_address;
            break;
        }
        const std::string key = std::to_string(static_cast<int>(h.kind)) + ":" + src.name;
        if (auto it = source_index_.find(key); it != source_index_.end()) return it->second;
        const auto index = static_cast<std::uint32_t>(d_.sources.size());
        d_.sources.push_back(std::move(src));
        source_index_.emplace(key, index);
        return index;
    }

    const config::DnsConfig& c_;
    ZoneData& d_;
    std::map<std::string, std::uint32_t> source_index_;
};

std::shared_ptr<const ZoneData> ZoneData::build(const config::DnsConfig& config) {
    auto data = std::make_shared<ZoneData>();
    ZoneBuilder(config, *data).build();
    return data;
}

const Node* ZoneData::find(std::string_view wire) const {
    const auto it = by_name_.find(wire);
    return it == by_name_.end() ? nullptr : &nodes[it->second];
}

const ZoneInfo* ZoneData::zone_of(std::string_view wire) const {
    // Walking up from the full name, the first apex found is the longest.
    while (!wire.empty()) {
        if (const auto it = by_apex_.find(wire); it != by_apex_.end()) return &zones[it->second];
        if (wire[0] == 0) break;
        wire = parent(wire);
    }
    return nullptr;
}

const RRSet* ZoneData::rrset(const Node& node, std::uint16_t type) const {
    for (const auto i : node.rrsets) {
        if (rrsets[i].type == type) return &rrsets[i];
    }
    return nullptr;
}

RegionMatch ZoneData::region_of(bool v6, const std::uint8_t* address) const {
    for (const auto& r : client_ranges) {
        if (r.v6 != v6) continue;
        const std::size_t full = r.prefix / 8;
        if (std::memcmp(r.bytes.data(), address, full) != 0) continue;
        if (const unsigned bits = r.prefix % 8; bits != 0) {
            const auto mask = static_cast<std::uint8_t>(0xFF << (8 - bits));
            if ((r.bytes[full] & mask) != (address[full] & mask)) continue;
        }
        return RegionMatch{r.region, r.prefix};
    }
    return {};
}

} // namespace haven::dns
