// libFuzzer target for the DNS server's packet path: arbitrary bytes as a query to the Responder,
// over UDP or TCP, with any mix of healthy and unhealthy sources, from any client address, through
// response-rate limiting. Beyond "does not crash", it checks what the server promises:
//   * a packet the parser drops gets no response; any other gets exactly one;
//   * a response fits its transport (512 bytes without EDNS, 1232 with it over UDP; 65535 TCP);
//   * libldns decodes every response; it has the query's id, QR set, the query's opcode, and
//     the question (when it had one) in the same case;
//   * the truncated reply RRL sends is valid, with TC set and no answer.
// The first input byte picks the transport, the health pattern and the client; the rest is the
// packet.
#include "config/yaml_loader.hpp"
#include "core/random.hpp"
#include "dns/answer.hpp"
#include "dns/rrl.hpp"

#include <ldns/ldns.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace {

using namespace haven::dns;

void require(bool ok) {
    if (!ok) __builtin_trap();
}

constexpr const char* kConfig = R"(
listeners: [ { name: web, listen: 127.0.0.1:0, pool: web } ]
pools: [ { name: web, servers: [ { name: w1, address: 127.0.0.1:9001 } ] } ]
regions:
  - { name: eu, endpoints: [127.0.0.2:80], health_check: { tcp: {} }, clients: [10.1.0.0/16] }
  - { name: us, endpoints: [127.0.0.3:80], health_check: { tcp: {} }, clients: [10.2.0.0/16] }
dns:
  listeners: [ { name: m, listen: 127.0.0.1:0 } ]
  zones:
    - name: example.com
      soa: { primary: ns1, admin: hostmaster }
      records:
        - { name: '@', type: NS, values: [ns1, ns2] }
        - { name: ns1, type: A, value: 192.0.2.53 }
        - { name: '@', type: MX, values: ['10 mail', '20 mail.example.net.'] }
        - { name: mail, type: A, values: [192.0.2.1, 192.0.2.2] }
        - { name: mail, type: AAAA, value: '2001:db8::1' }
        - { name: '@', type: TXT, values: [hello, world] }
        - { name: _s._tcp, type: SRV, value: '1 2 3 mail' }
        - { name: c, type: CNAME, value: d }
        - { name: d, type: CNAME, value: c }
        - { name: e, type: CNAME, value: mail }
        - { name: x.y.z, type: A, value: 192.0.2.9 }
        - { name: big, type: TXT, values: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,
                                           bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb,
                                           cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc,
                                           dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd,
                                           eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee] }
        - name: app
          type: A
          routing: failover
          members: [ { role: primary, region: eu, value: 127.0.0.2 }, { role: secondary, region: us, value: 127.0.0.3 } ]
        - name: mv
          type: AAAA
          routing: multivalue
          members: [ { values: ['2001:db8::1', '2001:db8::2'], region: eu }, { value: '2001:db8::3', pool: web } ]
        - name: near
          type: A
          routing: latency
          members: [ { region: us, value: 192.0.2.102 }, { region: eu, value: 192.0.2.101 } ]
        - name: w
          type: CNAME
          routing: weighted
          members: [ { weight: 1, value: mail, region: eu }, { weight: 2, value: e, region: us } ]
    - name: other.test
      soa: { primary: ns.other.test., admin: h }
      records: [ { name: a, type: CNAME, value: x.y.z.example.com. } ]
)";

struct World {
    std::shared_ptr<const ZoneData> data;
    std::vector<std::shared_ptr<const HealthView>> views; // one per health pattern
    haven::FastRandom random{42};
    std::unique_ptr<Responder> responder;
    std::unique_ptr<RateLimiter> rrl;
};

World& world() {
    static World w = [] {
        World out;
        haven::config::LoadOptions o;
        o.resolve_host = [](const std::string&) -> std::optional<std::string> { return "offline"; };
        auto r = haven::config::load_string(kConfig, "fuzz.yaml", o);
        require(r.config.has_value() && r.config->dns);
        out.data = ZoneData::build(*r.config->dns);
        for (unsigned pattern = 0; pattern < 8; ++pattern) {
            std::vector<bool> up(out.data->sources.size());
            for (std::size_t i = 0; i < up.size(); ++i) up[i] = (pattern >> (i % 3)) & 1;
            out.views.push_back(std::make_shared<HealthView>(compute_view(*out.data, up)));
        }
        out.responder = std::make_unique<Responder>(out.random);
        haven::config::DnsRrl rrl;
        rrl.responses_per_second = 3;
        rrl.max_subnets = 1024;
        out.rrl = std::make_unique<RateLimiter>(rrl);
        return out;
    }();
    return w;
}

void check_response(const std::vector<std::uint8_t>& query, const std::uint8_t* resp, std::size_t size, bool tcp) {
    Query q;
    const ParseStatus status = parse_query(query, q);
    require((status == ParseStatus::Drop) == (size == 0));
    if (size == 0) return;
    require(size <= (tcp ? 65535u : (q.edns ? 1232u : 512u)));
    require(resp[0] == query[0] && resp[1] == query[1]);
    require((resp[2] & 0x80) != 0);
    require(((resp[2] >> 3) & 0x0F) == q.opcode);
    ldns_pkt* p = nullptr;
    require(ldns_wire2pkt(&p, resp, size) == LDNS_STATUS_OK);
    if (q.has_question && status == ParseStatus::Ok) {
        require(ldns_pkt_qdcount(p) == 1);
        const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(p), 0);
        const ldns_rdf* owner = ldns_rr_owner(question);
        require(ldns_rdf_size(owner) == q.qname_len);
        require(std::memcmp(ldns_rdf_data(owner), q.qname_raw.data(), q.qname_len) == 0);
    }
    ldns_pkt_free(p);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1 || size > 4096) return 0;
    World& w = world();
    const std::uint8_t control = data[0];
    const std::vector<std::uint8_t> query(data + 1, data + size);
    const bool tcp = control & 1;
    const Snapshot snapshot{w.data, w.views[(control >> 1) & 7]};
    ClientAddress client;
    client.v6 = (control & 0x10) != 0;
    client.bytes = {10, static_cast<std::uint8_t>((control >> 5) & 3), 0, 1};
    std::vector<std::uint8_t> out(65535);
    Outcome outcome;
    const std::size_t n = w.responder->answer(snapshot, query, client, tcp ? Transport::Tcp : Transport::Udp, out, outcome);
    check_response(query, out.data(), n, tcp);
    require(outcome.responded == (n > 0));

    const auto verdict = w.rrl->check(client.v6, client.bytes.data(), haven::TimePoint{} + std::chrono::seconds(1));
    require(verdict == RrlVerdict::Send || verdict == RrlVerdict::Drop || verdict == RrlVerdict::Slip);
    const std::size_t t = w.responder->truncated(snapshot, query, out);
    if (t > 0) {
        ldns_pkt* p = nullptr;
        require(ldns_wire2pkt(&p, out.data(), t) == LDNS_STATUS_OK);
        require(ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 0);
        ldns_pkt_free(p);
    }
    return 0;
}
