// The rules between DNS items and between DNS and the rest of the config (see dns_keys.hpp):
// what makes a zone unservable is refused here, with the record's line and column, so that a bad
// zone never replaces a good one on reload. Paths follow the loader's ("dns.zones[0].records[2]").
#include "config/dns_keys.hpp"

#include "config/dns_values.hpp"

#include <map>
#include <set>
#include <unordered_map>

namespace haven::config {
namespace {

// Far below the 65535 bytes a DNS message may hold: a set this large could never be answered
// together with its question, its OPT record and its SOA.
constexpr std::size_t kMaxSetWireBytes = 60'000;
constexpr std::size_t kMaxValuesPerSet = 4'096;

std::size_t wire_size(DnsType t, const DnsValue& v) {
    const std::size_t name = v.target.empty() ? 1 : v.target.size() + 2;
    switch (t) {
    case DnsType::A: return 4;
    case DnsType::AAAA: return 16;
    case DnsType::CNAME:
    case DnsType::NS: return name;
    case DnsType::MX: return 2 + name;
    case DnsType::SRV: return 6 + name;
    case DnsType::TXT: {
        std::size_t n = 0;
        for (const auto& s : v.strings) n += 1 + s.size();
        return n;
    }
    case DnsType::SOA: break;
    }
    return 0;
}

class DnsChecker {
public:
    DnsChecker(const Config& c, std::vector<ConfigError>& errors) : c_(c), errors_(errors) {}

    void run() {
        server_regions();
        if (!c_.dns) return;
        regions();
        if (c_.dns->server) server(*c_.dns->server);
    }

private:
    void add(SourceLoc loc, std::string message) {
        errors_.push_back(ConfigError{c_.source, loc.line, loc.column, std::move(message)});
    }

    // A server's `region` names a region of `regions:`.
    void server_regions() {
        for (std::size_t i = 0; i < c_.pools.size(); ++i) {
            for (std::size_t j = 0; j < c_.pools[i].servers.size(); ++j) {
                const Server& s = c_.pools[i].servers[j];
                if (s.region.empty() || (c_.dns && c_.dns->find_region(s.region))) continue;
                add(s.region_loc, "pools[" + std::to_string(i) + "].servers[" + std::to_string(j) + "].region: unknown region " +
                                      rules::quote(s.region) + (c_.dns && !c_.dns->regions.empty() ? "" : " (no regions: are written)"));
            }
        }
    }

    void regions() {
        std::map<std::string, SourceLoc> names;
        for (std::size_t i = 0; i < c_.dns->regions.size(); ++i) {
            const Region& g = c_.dns->regions[i];
            const std::string path = "regions[" + std::to_string(i) + "]";
            if (auto [it, fresh] = names.emplace(g.name, g.loc); !fresh && !g.name.empty()) {
                add(g.loc, path + ".name: duplicate region " + rules::quote(g.name) + " (first at " + rules::loc_text(it->second) + ")");
            }
            if (g.endpoints.empty()) add(g.loc, path + ": a region needs endpoints: (HOST:PORT, checked by its health_check)");
            if (g.min_healthy > g.endpoints.size() && !g.endpoints.empty()) {
                add(g.loc, path + ".min_healthy: " + std::to_string(g.min_healthy) + " is more than its " +
                               std::to_string(g.endpoints.size()) + " endpoint(s); the region could never be up");
            }
            std::set<std::string> endpoint_names;
            for (const auto& e : g.endpoints) {
                if (!endpoint_names.insert(e.name).second) add(e.loc, path + ".endpoints: duplicate endpoint " + rules::quote(e.name));
            }
            for (const auto& cidr : g.clients) {
                if (!dns_text::parse_cidr(cidr)) add(g.loc, path + ".clients: invalid address range " + rules::quote(cidr));
            }
        }
    }

    void server(const DnsServerConfig& d) {
        if (d.listeners.empty()) add(d.loc, "dns: needs listeners: (name and listen, served over UDP and TCP)");
        if (d.zones.empty()) add(d.loc, "dns: needs zones: (every query for another name is REFUSED)");
        listeners(d);
        if (d.health_ttl.count() % 1000 != 0 || d.health_ttl.count() < 0) add(d.loc, "dns.health_ttl: a TTL is whole seconds");
        std::map<std::string, SourceLoc> zone_names;
        for (const auto& z : d.zones) {
            if (auto [it, fresh] = zone_names.emplace(z.name, z.loc); !fresh) {
                add(z.loc, "dns.zones: zone " + rules::quote(z.name) + " is defined twice (first at " + rules::loc_text(it->second) + ")");
            }
        }
        for (std::size_t i = 0; i < d.zones.size(); ++i) zone("dns.zones[" + std::to_string(i) + "]", d.zones[i], d);
    }

    // Rules: names unique; an address not shared with another DNS listener, nor (for TCP) with a
    // proxy listener or the admin listener. Port 0 asks the kernel and never collides.
    void listeners(const DnsServerConfig& d) {
        std::map<std::string, SourceLoc> names;
        std::map<std::string, std::string> used;
        const auto key = [](const Endpoint& e) { return rules::canonical_host(e.host) + "|" + std::to_string(e.port); };
        for (const auto& l : c_.listeners) {
            if (l.listen.port != 0) used.emplace(key(l.listen), "listener " + rules::quote(l.name));
        }
        if (c_.admin && c_.admin->listen.port != 0) used.emplace(key(c_.admin->listen), "the admin listener");
        for (std::size_t i = 0; i < d.listeners.size(); ++i) {
            const DnsListener& l = d.listeners[i];
            const std::string path = "dns.listeners[" + std::to_string(i) + "]";
            if (auto [it, fresh] = names.emplace(l.name, l.loc); !fresh) {
                add(l.loc, path + ".name: duplicate DNS listener " + rules::quote(l.name) + " (first at " + rules::loc_text(it->second) + ")");
            }
            if (l.listen.port == 0 || l.listen.host.empty()) continue;
            if (auto [it, fresh] = used.emplace(key(l.listen), "DNS listener " + rules::quote(l.name)); !fresh) {
                add(l.loc, path + ".listen: " + l.listen.text + " is already used by " + it->second);
            }
        }
    }

    void zone(const std::string& path, const DnsZone& z, const DnsServerConfig& d) {
        // Types present at each owner, and where each set was written.
        std::map<std::pair<std::string, DnsType>, SourceLoc> sets;
        std::map<std::string, std::pair<DnsType, SourceLoc>> first_at;
        for (std::size_t j = 0; j < z.records.size(); ++j) {
            const DnsRecordSet& rs = z.records[j];
            const std::string rpath = path + ".records[" + std::to_string(j) + "]";
            if (!owner(rpath, rs, z, d)) continue;
            if (auto [it, fresh] = sets.emplace(std::pair{rs.owner, rs.type}, rs.loc); !fresh) {
                add(rs.loc, rpath + ": " + rs.owner + " " + std::string(name_of(rs.type)) + " is defined twice (first at " +
                                rules::loc_text(it->second) + "); list every value in one record, or use routing:");
                continue;
            }
            auto [other, fresh] = first_at.emplace(rs.owner, std::pair{rs.type, rs.loc});
            if (!fresh && (rs.type == DnsType::CNAME || other->second.first == DnsType::CNAME)) {
                add(rs.loc, rpath + ": " + rs.owner + " has a CNAME and other records (the other at " +
                                rules::loc_text(other->second.second) + "); a CNAME must be alone at its name");
            }
            routing(rpath, rs);
            size(rpath, rs);
        }
    }

    // Rules: the owner lies in the zone, not in a zone nested in it that haven also serves; no
    // CNAME at the apex (it has SOA and NS); NS only at the apex (no delegations).
    bool owner(const std::string& rpath, const DnsRecordSet& rs, const DnsZone& z, const DnsServerConfig& d) {
        if (!dns_text::in_zone(rs.owner, z.name)) {
            add(rs.loc, rpath + ".name: " + rules::quote(rs.owner) + " is not in zone " + rules::quote(z.name));
            return false;
        }
        for (const auto& other : d.zones) {
            if (other.name.size() > z.name.size() && dns_text::in_zone(other.name, z.name) && dns_text::in_zone(rs.owner, other.name)) {
                add(rs.loc, rpath + ".name: " + rules::quote(rs.owner) + " belongs to zone " + rules::quote(other.name) +
                                ", which haven also serves; write it there");
                return false;
            }
        }
        if (rs.type == DnsType::CNAME && rs.owner == z.name) {
            add(rs.loc, rpath + ": a CNAME cannot be at the zone's own name (it has SOA and NS records)");
        }
        if (rs.type == DnsType::NS && rs.owner != z.name) {
            add(rs.loc, rpath + ": NS records below the zone's name would delegate " + rules::quote(rs.owner) +
                            "; delegations are not supported");
        }
        return true;
    }

    // Rules per routing: failover has one primary and at most one secondary; latency members
    // name distinct regions; every health reference exists.
    void routing(const std::string& rpath, const DnsRecordSet& rs) {
        std::size_t primaries = 0, secondaries = 0;
        std::set<std::string> regions;
        for (std::size_t k = 0; k < rs.members.size(); ++k) {
            const DnsMember& m = rs.members[k];
            const std::string mpath = rpath + ".members[" + std::to_string(k) + "]";
            if (rs.routing == DnsRouting::Failover) (m.role == FailoverRole::Primary ? primaries : secondaries)++;
            if (rs.routing == DnsRouting::Latency && !m.region.empty()) {
                if (!regions.insert(m.region).second) {
                    add(m.region_loc, mpath + ".region: two members of one latency record are in " + rules::quote(m.region));
                }
                // Reported once: by health_ref when the region also decides the member's health.
                const bool checked_there = m.health.kind == DnsHealth::Kind::Region && m.health.region == m.region;
                if (!checked_there && !c_.dns->find_region(m.region)) {
                    add(m.region_loc, mpath + ".region: " + unknown_region(m.region));
                }
            }
            health_ref(mpath, m.health);
        }
        if (rs.routing == DnsRouting::Simple) return;
        if (rs.members.empty()) add(rs.loc, rpath + ": must list at least one member");
        if (rs.routing == DnsRouting::Failover && (primaries != 1 || secondaries > 1)) {
            add(rs.loc, rpath + ": routing: failover needs exactly one primary member and at most one secondary (has " +
                            std::to_string(primaries) + " and " + std::to_string(secondaries) + ")");
        }
    }

    void health_ref(const std::string& mpath, const DnsHealth& h) {
        switch (h.kind) {
        case DnsHealth::Kind::Always:
        case DnsHealth::Kind::Check: return;
        case DnsHealth::Kind::Region:
            if (!c_.dns->find_region(h.region)) add(h.loc, mpath + ".region: " + unknown_region(h.region));
            return;
        case DnsHealth::Kind::Pool:
        case DnsHealth::Kind::Server: break;
        }
        const Pool* p = c_.find_pool(h.pool);
        if (!p) {
            add(h.loc, mpath + (h.kind == DnsHealth::Kind::Pool ? ".pool: " : ".server: ") + "unknown pool " + rules::quote(h.pool));
            return;
        }
        if (h.kind != DnsHealth::Kind::Server) return;
        for (const auto& s : p->servers) {
            if (s.name == h.server) return;
        }
        add(h.loc, mpath + ".server: pool " + rules::quote(h.pool) + " has no server " + rules::quote(h.server));
    }

    std::string unknown_region(const std::string& name) {
        std::string message = "unknown region " + rules::quote(name);
        std::vector<std::string_view> names;
        for (const auto& g : c_.dns->regions) names.push_back(g.name);
        if (names.empty()) return message + " (define it under the top-level regions:)";
        if (auto near = rules::closest(name, names)) message += " (did you mean \"" + std::string(*near) + "\"?)";
        return message;
    }

    void size(const std::string& rpath, const DnsRecordSet& rs) {
        std::size_t bytes = 0, values = 0;
        for (const auto& m : rs.members) {
            for (const auto& v : m.values) bytes += 12 + wire_size(rs.type, v); // pointer, type, class, TTL, length
            values += m.values.size();
        }
        if (bytes > kMaxSetWireBytes || values > kMaxValuesPerSet) {
            add(rs.loc, rpath + ": " + std::to_string(values) + " values (" + std::to_string(bytes) +
                            " bytes) could not be answered in one DNS message (at most 4096 values and 60000 bytes)");
        }
    }

    const Config& c_;
    std::vector<ConfigError>& errors_;
};

} // namespace

void check_dns_keys(const Config& config, std::vector<ConfigError>& errors) { DnsChecker(config, errors).run(); }

} // namespace haven::config
