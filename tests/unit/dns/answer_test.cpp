// The Responder against a zone with every record type, read back by libldns: answers, NXDOMAIN
// and NODATA with their SOA, REFUSED, CNAME chains, truncation and TCP, EDNS and Client Subnet,
// case, compression and the additional section.
#include "dns_test_support.hpp"

#include "support/fake_random.hpp"

#include <algorithm>

namespace haven::dns {
namespace {

using test::Decoded;
using test::QueryOptions;

std::string big_txt() {
    std::string values;
    for (int i = 0; i < 12; ++i) values += "\"" + std::string(200, static_cast<char>('a' + i)) + "\", ";
    return "[" + values.substr(0, values.size() - 2) + "]";
}

std::string zone() {
    return "dns:\n"
           "  listeners: [ { name: main, listen: 127.0.0.1:0 } ]\n"
           "  zones:\n"
           "    - name: Example.COM\n"
           "      ttl: 300\n"
           "      soa: { primary: ns1, admin: hostmaster@example.com, serial: 42, negative_ttl: 60 }\n"
           "      records:\n"
           "        - { name: '@', type: NS, values: [ns1, ns2.example.net.] }\n"
           "        - { name: ns1, type: A, value: 192.0.2.53 }\n"
           "        - { name: '@', type: MX, values: ['10 mail', '20 mx.example.net.'] }\n"
           "        - { name: mail, type: A, value: 192.0.2.25 }\n"
           "        - { name: mail, type: AAAA, value: '2001:db8::25' }\n"
           "        - { name: www, type: A, ttl: 60, values: [192.0.2.1, 192.0.2.2] }\n"
           "        - { name: www, type: AAAA, value: '2001:db8::1' }\n"
           "        - { name: alias, type: CNAME, value: www }\n"
           "        - { name: outside, type: CNAME, value: www.example.net. }\n"
           "        - { name: dangling, type: CNAME, value: nothere }\n"
           "        - { name: '@', type: TXT, value: 'v=spf1 -all' }\n"
           "        - { name: _sip._tcp, type: SRV, value: '10 60 5060 sip' }\n"
           "        - { name: sip, type: A, value: 192.0.2.60 }\n"
           "        - { name: a.b.c, type: A, value: 192.0.2.99 }\n"
           "        - { name: big, type: TXT, values: " + big_txt() + " }\n";
}

class Answers : public ::testing::Test {
protected:
    haven::test::FakeRandom random_;
    test::Fixture f_{zone(), random_};
};

TEST_F(Answers, EveryTypeIsAnsweredAuthoritatively) {
    struct Case {
        const char* name;
        std::uint16_t type;
        std::vector<std::string> answer;
    };
    const Case cases[] = {
        {"www.example.com", rr::A, {"www.example.com. 60 IN A 192.0.2.1", "www.example.com. 60 IN A 192.0.2.2"}},
        {"www.example.com", rr::AAAA, {"www.example.com. 300 IN AAAA 2001:db8::1"}},
        {"example.com", rr::NS, {"example.com. 300 IN NS ns1.example.com.", "example.com. 300 IN NS ns2.example.net."}},
        {"example.com", rr::MX, {"example.com. 300 IN MX 10 mail.example.com.", "example.com. 300 IN MX 20 mx.example.net."}},
        {"example.com", rr::TXT, {"example.com. 300 IN TXT \"v=spf1 -all\""}},
        {"_sip._tcp.example.com", rr::SRV, {"_sip._tcp.example.com. 300 IN SRV 10 60 5060 sip.example.com."}},
        {"alias.example.com", rr::CNAME, {"alias.example.com. 300 IN CNAME www.example.com."}},
        {"example.com", rr::SOA,
         {"example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 42 3600 900 1209600 60"}},
    };
    for (const auto& c : cases) {
        const Decoded d = f_.ask(c.name, c.type);
        ASSERT_TRUE(d.ok) << c.name;
        EXPECT_EQ(d.rcode, "NOERROR") << c.name;
        EXPECT_TRUE(d.aa) << c.name;
        EXPECT_FALSE(d.tc) << c.name;
        EXPECT_TRUE(d.rd) << "RD is copied from the query";
        EXPECT_EQ(d.id, 0x1234);
        EXPECT_EQ(d.answer, c.answer) << c.name;
        EXPECT_TRUE(d.authority.empty()) << c.name;
    }
}

TEST_F(Answers, NxdomainAndNodataCarryTheSoaWithTheNegativeTtl) {
    const std::string soa = "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 42 3600 900 1209600 60";
    const Decoded nx = f_.ask("nope.example.com", rr::A);
    EXPECT_EQ(nx.rcode, "NXDOMAIN");
    EXPECT_TRUE(nx.aa);
    EXPECT_TRUE(nx.answer.empty());
    EXPECT_EQ(nx.authority, std::vector<std::string>{soa});
    EXPECT_FALSE(f_.outcome().nodata);

    const Decoded nodata = f_.ask("www.example.com", rr::TXT);
    EXPECT_EQ(nodata.rcode, "NOERROR");
    EXPECT_TRUE(nodata.aa);
    EXPECT_TRUE(nodata.answer.empty());
    EXPECT_EQ(nodata.authority, std::vector<std::string>{soa});
    EXPECT_TRUE(f_.outcome().nodata);
}

TEST_F(Answers, EmptyNonTerminalIsNodataNotNxdomain) {
    for (const char* name : {"b.c.example.com", "c.example.com"}) {
        const Decoded d = f_.ask(name, rr::A);
        EXPECT_EQ(d.rcode, "NOERROR") << name;
        EXPECT_EQ(d.authority.size(), 1u) << name;
    }
    EXPECT_EQ(f_.ask("x.c.example.com", rr::A).rcode, "NXDOMAIN");
}

TEST_F(Answers, NamesOutsideServedZonesAreRefusedWithoutAa) {
    for (const char* name : {"example.org", "www.example.net", "com", "notexample.com"}) {
        const Decoded d = f_.ask(name, rr::A);
        EXPECT_EQ(d.rcode, "REFUSED") << name;
        EXPECT_FALSE(d.aa) << name;
        EXPECT_EQ(d.question.size(), 1u) << name;
    }
}

TEST_F(Answers, NamesMatchWhateverTheirCaseAndTheQuestionKeepsIt) {
    const Decoded d = f_.ask("WwW.ExAmPlE.cOm", rr::A);
    EXPECT_EQ(d.rcode, "NOERROR");
    ASSERT_EQ(d.question.size(), 1u);
    EXPECT_EQ(d.question[0], "WwW.ExAmPlE.cOm. IN A");
    EXPECT_EQ(d.answer.size(), 2u);
}

TEST_F(Answers, OwnerNamesAreCompressedAgainstTheQuestion) {
    // header 12 + question (17-byte name + 4) + 2 records x (2-byte pointer + 10 + 4 address)
    f_.ask("www.example.com", rr::A);
    EXPECT_EQ(f_.raw().size(), 12u + 21u + 2u * 16u);
    // MX targets compress against the question too: "mail" + pointer to example.com.
    const Decoded mx = f_.ask("example.com", rr::MX);
    EXPECT_EQ(mx.answer.size(), 2u);
    EXPECT_LT(f_.raw().size(), 150u);
}

TEST_F(Answers, CnamesAreFollowedInsideTheServedZones) {
    const Decoded d = f_.ask("alias.example.com", rr::A);
    EXPECT_EQ(d.rcode, "NOERROR");
    EXPECT_EQ(d.answer, (std::vector<std::string>{"alias.example.com. 300 IN CNAME www.example.com.",
                                                  "www.example.com. 60 IN A 192.0.2.1", "www.example.com. 60 IN A 192.0.2.2"}));

    const Decoded out = f_.ask("outside.example.com", rr::A);
    EXPECT_EQ(out.rcode, "NOERROR");
    EXPECT_EQ(out.answer.size(), 1u) << "the resolver follows a target haven does not serve";

    const Decoded dangling = f_.ask("dangling.example.com", rr::A);
    EXPECT_EQ(dangling.rcode, "NXDOMAIN") << "RFC 6604: the rcode is the last name's";
    EXPECT_EQ(dangling.answer.size(), 1u);
    EXPECT_EQ(dangling.authority.size(), 1u);
}

TEST_F(Answers, TargetsOfNsMxAndSrvComeWithTheirAddresses) {
    EXPECT_EQ(f_.ask("example.com", rr::NS).additional,
              std::vector<std::string>{"ns1.example.com. 300 IN A 192.0.2.53"});
    EXPECT_EQ(f_.ask("example.com", rr::MX).additional,
              (std::vector<std::string>{"mail.example.com. 300 IN A 192.0.2.25", "mail.example.com. 300 IN AAAA 2001:db8::25"}));
    EXPECT_EQ(f_.ask("_sip._tcp.example.com", rr::SRV).additional,
              std::vector<std::string>{"sip.example.com. 300 IN A 192.0.2.60"});
}

TEST_F(Answers, TooBigForUdpIsTruncatedAndWholeOverTcp) {
    const Decoded udp = f_.ask("big.example.com", rr::TXT);
    EXPECT_TRUE(udp.tc);
    EXPECT_TRUE(udp.answer.empty());
    EXPECT_EQ(udp.question.size(), 1u);
    EXPECT_LE(udp.size, 512u);
    EXPECT_TRUE(f_.outcome().truncated);

    QueryOptions edns;
    edns.edns = true;
    edns.payload = 4096;
    const Decoded bigger = f_.ask("big.example.com", rr::TXT, edns);
    EXPECT_TRUE(bigger.tc) << "max_udp_payload (1232) caps the client's 4096";
    EXPECT_LE(bigger.size, 1232u);
    EXPECT_TRUE(bigger.edns);

    const Decoded tcp = f_.ask(test::make_query("big.example.com", rr::TXT), Transport::Tcp);
    EXPECT_FALSE(tcp.tc);
    EXPECT_EQ(tcp.answer.size(), 12u);
    EXPECT_GT(tcp.size, 2400u);
}

TEST_F(Answers, EdnsIsAnsweredWithOurPayloadSizeAndTheDoBit) {
    QueryOptions o;
    o.edns = true;
    o.payload = 4096;
    o.dnssec_ok = true;
    f_.ask("www.example.com", rr::A, o);
    ldns_pkt* p = nullptr;
    ASSERT_EQ(ldns_wire2pkt(&p, f_.raw().data(), f_.raw().size()), LDNS_STATUS_OK);
    EXPECT_TRUE(ldns_pkt_edns(p));
    EXPECT_EQ(ldns_pkt_edns_udp_size(p), 1232);
    EXPECT_TRUE(ldns_pkt_edns_do(p));
    EXPECT_EQ(ldns_pkt_edns_version(p), 0);
    ldns_pkt_free(p);

    EXPECT_FALSE(f_.ask("www.example.com", rr::A).edns) << "no OPT record without EDNS in the query";
}

TEST_F(Answers, EdnsVersionAboveZeroIsBadvers) {
    QueryOptions o;
    o.edns = true;
    o.version = 1;
    f_.ask("www.example.com", rr::A, o);
    ldns_pkt* p = nullptr;
    ASSERT_EQ(ldns_wire2pkt(&p, f_.raw().data(), f_.raw().size()), LDNS_STATUS_OK);
    EXPECT_EQ(ldns_pkt_edns_extended_rcode(p), 1) << "BADVERS is 16: 1 in the OPT's upper bits";
    EXPECT_EQ(ldns_pkt_get_rcode(p), 0);
    EXPECT_EQ(ldns_pkt_ancount(p), 0);
    ldns_pkt_free(p);
}

TEST_F(Answers, AnyGetsTheRfc8482Hinfo) {
    const Decoded d = f_.ask("www.example.com", rr::ANY);
    EXPECT_EQ(d.rcode, "NOERROR");
    EXPECT_EQ(d.answer, std::vector<std::string>{"www.example.com. 300 IN HINFO \"RFC8482\" \"\""});
    EXPECT_EQ(f_.ask("nope.example.com", rr::ANY).rcode, "NXDOMAIN");
}

TEST_F(Answers, ZoneTransfersOtherClassesAndMetaTypesAreNotServed) {
    EXPECT_EQ(f_.ask("example.com", rr::AXFR).rcode, "REFUSED");
    EXPECT_EQ(f_.ask("example.com", rr::IXFR).rcode, "REFUSED");
    QueryOptions chaos;
    chaos.qclass = 3;
    EXPECT_EQ(f_.ask("version.bind", rr::TXT, chaos).rcode, "REFUSED");
    EXPECT_EQ(f_.ask("example.com", 250 /* TSIG */).rcode, "NOTIMP");
}

} // namespace
} // namespace haven::dns
