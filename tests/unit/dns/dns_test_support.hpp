// Helpers for the DNS unit tests: a zone loaded through the real config loader, queries built
// byte by byte (so malformed ones can be too), and responses decoded by libldns — an
// implementation independent of haven's — into text that tests compare.
#pragma once

#include "config/dns_schema.hpp"
#include "config/yaml_loader.hpp"
#include "dns/answer.hpp"
#include "dns/health_view.hpp"
#include "dns/zone_data.hpp"
#include "support/config_helpers.hpp"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::dns::test {

using haven::test::offline;

// The config around `dns_and_regions` (YAML for the top-level regions: and dns: keys).
inline std::string with_base(const std::string& dns_and_regions) {
    return "listeners: [ { name: web, listen: 127.0.0.1:0, pool: web } ]\n"
           "pools: [ { name: web, servers: [ { name: web1, address: 127.0.0.1:9001 },"
           " { name: web2, address: 127.0.0.1:9002 } ] } ]\n" +
           dns_and_regions;
}

inline std::string errors_of(const config::LoadResult& r) { return haven::test::all_errors(r); }

inline std::shared_ptr<const config::DnsConfig> load_dns(const std::string& yaml) {
    auto r = config::load_string(with_base(yaml), "dns.yaml", offline());
    EXPECT_TRUE(r.config.has_value()) << errors_of(r);
    if (!r.config || !r.config->dns) return std::make_shared<config::DnsConfig>();
    return r.config->dns;
}

struct QueryOptions {
    std::uint16_t id = 0x1234;
    std::uint16_t flags = 0x0100; // RD
    std::uint16_t qclass = 1;
    bool edns = false;
    std::uint16_t payload = 1232;
    std::uint8_t version = 0;
    bool dnssec_ok = false;
    std::vector<std::uint8_t> options; // raw EDNS options
};

// A query for `name` (text, case kept) and `type`.
inline std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t type, const QueryOptions& o = {}) {
    std::vector<std::uint8_t> q;
    const auto u16 = [&](std::uint16_t v) {
        q.push_back(static_cast<std::uint8_t>(v >> 8));
        q.push_back(static_cast<std::uint8_t>(v));
    };
    u16(o.id);
    u16(o.flags);
    u16(1);
    u16(0);
    u16(0);
    u16(o.edns ? 1 : 0);
    std::size_t start = 0;
    while (start < name.size()) {
        auto dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        q.push_back(static_cast<std::uint8_t>(dot - start));
        q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    q.push_back(0);
    u16(type);
    u16(o.qclass);
    if (o.edns) {
        q.push_back(0);
        u16(41);
        u16(o.payload);
        q.push_back(0);
        q.push_back(o.version);
        u16(o.dnssec_ok ? 0x8000 : 0);
        u16(static_cast<std::uint16_t>(o.options.size()));
        q.insert(q.end(), o.options.begin(), o.options.end());
    }
    return q;
}

// An EDNS Client Subnet option for an IPv4 address.
inline std::vector<std::uint8_t> ecs_v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t prefix) {
    // Appended byte by byte: g++ 12 warns (-Warray-bounds, wrongly) about a range insert here.
    const std::uint8_t addr[4] = {a, b, c, 0};
    const std::size_t n = (prefix + 7u) / 8u; // past 32 bits (a malformed option) the rest is zeros
    std::vector<std::uint8_t> o = {0, 8, 0, static_cast<std::uint8_t>(4 + n), 0, 1, prefix, 0};
    for (std::size_t i = 0; i < n; ++i) o.push_back(i < 4 ? addr[i] : 0);
    return o;
}

// A response as libldns reads it.
struct Decoded {
    bool ok = false;
    std::uint16_t id = 0;
    std::string rcode;
    bool aa = false, tc = false, rd = false;
    std::vector<std::string> question, answer, authority, additional; // ldns presentation lines
    bool edns = false;
    std::uint16_t udp_size = 0;
    std::vector<std::uint8_t> edns_options; // raw
    std::size_t size = 0;
};

inline std::vector<std::string> lines(ldns_rr_list* list) {
    std::vector<std::string> out;
    for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
        char* s = ldns_rr2str(ldns_rr_list_rr(list, i));
        std::string line(s ? s : "");
        free(s);
        while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
        for (auto& c : line) c = c == '\t' ? ' ' : c;
        out.push_back(line);
    }
    return out;
}

// The header's response code by its standard mnemonic (IANA's "DNS RCODEs" registry, upper-case
// as dig prints it). Not ldns_pkt_rcode2str: libldns names code 4 "NOTIMPL", which no other
// tool, nor the RFCs (NotImp), nor haven's metrics use.
inline std::string rcode_name(unsigned code) {
    static constexpr const char* kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                             "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
    return code < std::size(kNames) ? kNames[code] : "RCODE" + std::to_string(code);
}

inline Decoded decode(const std::uint8_t* data, std::size_t size) {
    Decoded d;
    d.size = size;
    ldns_pkt* p = nullptr;
    if (size == 0 || ldns_wire2pkt(&p, data, size) != LDNS_STATUS_OK) return d;
    d.ok = true;
    d.id = ldns_pkt_id(p);
    d.rcode = rcode_name(ldns_pkt_get_rcode(p));
    d.aa = ldns_pkt_aa(p);
    d.tc = ldns_pkt_tc(p);
    d.rd = ldns_pkt_rd(p);
    d.question = lines(ldns_pkt_question(p));
    d.answer = lines(ldns_pkt_answer(p));
    d.authority = lines(ldns_pkt_authority(p));
    d.additional = lines(ldns_pkt_additional(p));
    d.edns = ldns_pkt_edns(p);
    d.udp_size = ldns_pkt_edns_udp_size(p);
    if (const ldns_rdf* opts = ldns_pkt_edns_data(p)) {
        d.edns_options.assign(ldns_rdf_data(opts), ldns_rdf_data(opts) + ldns_rdf_size(opts));
    }
    ldns_pkt_free(p);
    return d;
}

// Answers queries from a config, with every health source up unless told otherwise.
class Fixture {
public:
    explicit Fixture(const std::string& yaml, Random& random)
        : config_(load_dns(yaml)), data_(ZoneData::build(*config_)), responder_(random) {
        set_health(std::vector<bool>(data_->sources.size(), true));
    }

    void set_health(const std::vector<bool>& up) {
        view_ = std::make_shared<HealthView>(compute_view(*data_, up));
        snapshot_ = Snapshot{data_, view_};
    }

    Decoded ask(const std::vector<std::uint8_t>& query, Transport t = Transport::Udp, ClientAddress client = {}) {
        answer_.assign(65535, 0);
        last_size_ = responder_.answer(snapshot_, query, client, t, answer_, outcome_);
        answer_.resize(last_size_);
        return decode(answer_.data(), last_size_);
    }
    Decoded ask(const std::string& name, std::uint16_t type, const QueryOptions& o = {}) { return ask(make_query(name, type, o)); }

    const ZoneData& data() const { return *data_; }
    const Outcome& outcome() const { return outcome_; }
    const std::vector<std::uint8_t>& raw() const { return answer_; }
    Responder& responder() { return responder_; }
    const Snapshot& snapshot() const { return snapshot_; }

private:
    std::shared_ptr<const config::DnsConfig> config_;
    std::shared_ptr<const ZoneData> data_;
    std::shared_ptr<const HealthView> view_;
    Snapshot snapshot_;
    Responder responder_;
    Outcome outcome_;
    std::vector<std::uint8_t> answer_;
    std::size_t last_size_ = 0;
};

} // namespace haven::dns::test
