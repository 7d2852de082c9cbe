// haven's own DNS wire code against libldns on the same work: parse a query, find the records,
// write the response (docs/dns.md, "Performance"). Both answer "www42.example.com A" from a
// zone of 1000 names with two addresses each; libldns with the usual calls (ldns_wire2pkt, a hash
// map of prebuilt ldns_rr_lists, ldns_pkt_new + ldns_rr_clone + ldns_pkt2wire), haven with its
// Responder. The difference per query is what the DNS thread saves at every packet.
//   build/dns/bench/dns_codec_bench
#include "config/yaml_loader.hpp"
#include "dns/answer.hpp"

#include <benchmark/benchmark.h>
#include <ldns/ldns.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace {

using namespace haven::dns;

constexpr int kNames = 1000;

std::string zone_yaml() {
    std::string y = "listeners: [ { name: web, listen: 127.0.0.1:0, pool: p } ]\n"
                    "pools: [ { name: p, servers: [ { address: 127.0.0.1:9 } ] } ]\n"
                    "dns:\n  listeners: [ { name: m, listen: 127.0.0.1:0 } ]\n  zones:\n"
                    "    - name: example.com\n      soa: { primary: ns1, admin: h }\n      records:\n";
    for (int i = 0; i < kNames; ++i) {
        y += "        - { name: www" + std::to_string(i) + ", type: A, values: [10.0." + std::to_string(i / 250) + "." +
             std::to_string(i % 250) + ", 10.1.0.1] }\n";
    }
    return y;
}

std::vector<std::uint8_t> query_bytes() {
    ldns_pkt* q = nullptr;
    ldns_pkt_query_new_frm_str(&q, "www42.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
    ldns_pkt_set_id(q, 0x1234);
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    ldns_pkt2wire(&wire, q, &size);
    std::vector<std::uint8_t> out(wire, wire + size);
    free(wire);
    ldns_pkt_free(q);
    return out;
}

void BM_HavenAnswer(benchmark::State& state) {
    haven::config::LoadOptions o;
    o.resolve_host = [](const std::string&) -> std::optional<std::string> { return "offline"; };
    const auto cfg = haven::config::load_string(zone_yaml(), "bench.yaml", o);
    const auto data = ZoneData::build(*cfg.config->dns);
    const Snapshot snapshot{data, std::make_shared<HealthView>(compute_view(*data, {}))};
    haven::FastRandom random(1);
    Responder responder(random);
    const auto query = query_bytes();
    std::vector<std::uint8_t> out(1232);
    Outcome outcome;
    for (auto _ : state) {
        const std::size_t n = responder.answer(snapshot, query, ClientAddress{}, Transport::Udp, out, outcome);
        benchmark::DoNotOptimize(n);
    }
}
BENCHMARK(BM_HavenAnswer);

// The same answer with libldns: the zone as ldns_rr_lists keyed by lower-case owner name.
void BM_LdnsAnswer(benchmark::State& state) {
    std::unordered_map<std::string, ldns_rr_list*> zone;
    for (int i = 0; i < kNames; ++i) {
        const std::string owner = "www" + std::to_string(i) + ".example.com.";
        auto* list = ldns_rr_list_new();
        for (const std::string& addr : {"10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250), std::string("10.1.0.1")}) {
            ldns_rr* rr = nullptr;
            ldns_rr_new_frm_str(&rr, (owner + " 3600 IN A " + addr).c_str(), 0, nullptr, nullptr);
            ldns_rr_list_push_rr(list, rr);
        }
        zone.emplace(owner, list);
    }
    const auto query = query_bytes();
    for (auto _ : state) {
        ldns_pkt* q = nullptr;
        if (ldns_wire2pkt(&q, query.data(), query.size()) != LDNS_STATUS_OK) state.SkipWithError("parse");
        const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
        ldns_rdf* name = ldns_rdf_clone(ldns_rr_owner(question));
        ldns_dname2canonical(name);
        char* text = ldns_rdf2str(name);
        ldns_pkt* r = ldns_pkt_new();
        ldns_pkt_set_id(r, ldns_pkt_id(q));
        ldns_pkt_set_qr(r, true);
        ldns_pkt_set_aa(r, true);
        ldns_pkt_set_rd(r, ldns_pkt_rd(q));
        ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
        if (const auto it = zone.find(text); it != zone.end()) {
            for (std::size_t i = 0; i < ldns_rr_list_rr_count(it->second); ++i) {
                ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, ldns_rr_clone(ldns_rr_list_rr(it->second, i)));
            }
        }
        std::uint8_t* wire = nullptr;
        std::size_t size = 0;
        ldns_pkt2wire(&wire, r, &size);
        benchmark::DoNotOptimize(size);
        free(wire);
        free(text);
        ldns_rdf_deep_free(name);
        ldns_pkt_free(r);
        ldns_pkt_free(q);
    }
    for (auto& [k, v] : zone) ldns_rr_list_deep_free(v);
}
BENCHMARK(BM_LdnsAnswer);

} // namespace
