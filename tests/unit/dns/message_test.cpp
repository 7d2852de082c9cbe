// Query parsing and the writer: what is a query, what is FORMERR, what is dropped unanswered;
// EDNS and Client Subnet rules; name compression.
#include "dns_test_support.hpp"

#include "dns/message.hpp"
#include "support/fake_random.hpp"

namespace haven::dns {
namespace {

using test::make_query;
using test::QueryOptions;

ParseStatus parse(const std::vector<std::uint8_t>& p, Query& q) { return parse_query(p, q); }

TEST(DnsParse, ReadsTheQuestionLowerCasedAndAsSent) {
    Query q;
    ASSERT_EQ(parse(make_query("WWW.Example.com", rr::AAAA), q), ParseStatus::Ok);
    EXPECT_EQ(q.id, 0x1234);
    EXPECT_EQ(q.qtype, rr::AAAA);
    EXPECT_EQ(q.qclass, rr::ClassIN);
    EXPECT_EQ(q.name(), to_wire("www.example.com"));
    EXPECT_EQ(q.raw_name(), std::string("\3WWW\7Example\3com\0", 17));
    EXPECT_FALSE(q.edns);
    EXPECT_EQ(q.udp_payload, 512);
}

TEST(DnsParse, ReadsEdnsAndClientSubnet) {
    QueryOptions o;
    o.edns = true;
    o.payload = 100; // below 512: treated as 512 (RFC 6891 6.2.5)
    o.dnssec_ok = true;
    o.options = test::ecs_v4(10, 2, 3, 24);
    Query q;
    ASSERT_EQ(parse(make_query("example.com", rr::A, o), q), ParseStatus::Ok);
    EXPECT_TRUE(q.edns);
    EXPECT_EQ(q.udp_payload, 512);
    EXPECT_TRUE(q.dnssec_ok);
    ASSERT_TRUE(q.ecs.present);
    EXPECT_EQ(q.ecs.family, 1);
    EXPECT_EQ(q.ecs.source_prefix, 24);
    EXPECT_EQ(q.ecs.address[0], 10);
    EXPECT_EQ(q.ecs.address[2], 3);
}

TEST(DnsParse, DropsWhatIsNotAQuery) {
    Query q;
    EXPECT_EQ(parse({}, q), ParseStatus::Drop);
    EXPECT_EQ(parse(std::vector<std::uint8_t>(11, 0), q), ParseStatus::Drop);
    QueryOptions response;
    response.flags = 0x8000; // QR: answering responses lets two servers echo each other forever
    EXPECT_EQ(parse(make_query("example.com", rr::A, response), q), ParseStatus::Drop);
}

TEST(DnsParse, OtherOpcodesAreNotImplemented) {
    QueryOptions notify;
    notify.flags = 4 << 11;
    Query q;
    EXPECT_EQ(parse(make_query("example.com", rr::SOA, notify), q), ParseStatus::NotImp);
    EXPECT_TRUE(q.has_question);
}

TEST(DnsParse, MalformedQueriesAreFormerr) {
    const auto base = make_query("example.com", rr::A);
    std::vector<std::vector<std::uint8_t>> bad;
    auto two_questions = base;
    two_questions[5] = 2;
    bad.push_back(two_questions);
    auto no_question = base;
    no_question[5] = 0;
    bad.push_back(no_question);
    auto with_answer = base;
    with_answer[7] = 1;
    bad.push_back(with_answer);
    bad.push_back(std::vector<std::uint8_t>(base.begin(), base.end() - 3)); // cut in QTYPE/QCLASS
    bad.push_back(std::vector<std::uint8_t>(base.begin(), base.begin() + 16)); // cut in the name
    auto long_label = base;
    long_label[12] = 64; // label types 01 and 10 are reserved
    bad.push_back(long_label);
    auto pointer = base;
    pointer[12] = 0xC0; // a pointer in the question can only point into the header
    pointer[13] = 0x00;
    bad.push_back(pointer);
    auto extra_ar = base;
    extra_ar[11] = 1; // an additional record that is not there
    bad.push_back(extra_ar);
    std::string long_name;
    for (int i = 0; i < 5; ++i) long_name += std::string(60, 'a') + ".";
    bad.push_back(make_query(long_name + "com", rr::A)); // more than 255 bytes
    for (std::size_t i = 0; i < bad.size(); ++i) {
        Query q;
        EXPECT_EQ(parse(bad[i], q), ParseStatus::FormErr) << "case " << i;
    }
}

TEST(DnsParse, BrokenEdnsIsFormerr) {
    const auto ecs_case = [](std::vector<std::uint8_t> option) {
        QueryOptions o;
        o.edns = true;
        o.options = std::move(option);
        Query q;
        return parse(make_query("example.com", rr::A, o), q);
    };
    EXPECT_EQ(ecs_case(test::ecs_v4(10, 0, 0, 24)), ParseStatus::Ok);
    EXPECT_EQ(ecs_case({0, 8, 0, 8, 0, 1, 33, 0, 10, 0, 0, 0}), ParseStatus::FormErr) << "prefix 33 for IPv4";
    EXPECT_EQ(ecs_case({0, 8, 0, 7, 0, 1, 16, 0, 10, 0, 0}), ParseStatus::FormErr) << "address longer than the prefix";
    EXPECT_EQ(ecs_case({0, 8, 0, 6, 0, 1, 12, 0, 10, 0xFF}), ParseStatus::FormErr) << "bits set beyond the prefix";
    EXPECT_EQ(ecs_case({0, 8, 0, 4, 0, 3, 0, 0}), ParseStatus::FormErr) << "unknown family";
    EXPECT_EQ(ecs_case({0, 8, 0, 9}), ParseStatus::FormErr) << "option longer than the record";
    auto two = test::ecs_v4(10, 0, 0, 8);
    const auto again = test::ecs_v4(10, 0, 0, 8);
    two.insert(two.end(), again.begin(), again.end());
    EXPECT_EQ(ecs_case(two), ParseStatus::FormErr) << "two Client Subnet options";
    EXPECT_EQ(ecs_case({0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}), ParseStatus::Ok) << "other options (a cookie) are skipped";

    QueryOptions o;
    o.edns = true;
    auto two_opts = make_query("example.com", rr::A, o);
    two_opts[11] = 2;
    const std::vector<std::uint8_t> opt(two_opts.end() - 11, two_opts.end());
    two_opts.insert(two_opts.end(), opt.begin(), opt.end());
    Query q;
    EXPECT_EQ(parse(two_opts, q), ParseStatus::FormErr) << "two OPT records (RFC 6891 6.1.1)";
    o.version = 1;
    EXPECT_EQ(parse(make_query("example.com", rr::A, o), q), ParseStatus::BadVers);
}

TEST(DnsWriter, CompressesSuffixesAlreadyWritten) {
    std::array<std::uint8_t, 512> buf{};
    Writer w(buf.data(), buf.size());
    const std::string a = to_wire("www.example.com");
    const std::string b = to_wire("mail.example.com");
    const std::string c = to_wire("example.com");
    w.name(a);
    w.name(b);
    w.name(c);
    w.name(a);
    // www.example.com (17), "mail" + pointer (5 + 2), pointer to example.com (2), pointer (2)
    EXPECT_EQ(w.size(), 17u + 7u + 2u + 2u);
    EXPECT_EQ(buf[17 + 5], 0xC0);
    EXPECT_EQ(buf[17 + 6], 4) << "example.com starts at offset 4 of www.example.com";
    EXPECT_EQ(buf[26], 0xC0);
    EXPECT_EQ(buf[27], 0);
}

TEST(DnsWriter, WritesNothingPastItsLimitAndRewinds) {
    std::array<std::uint8_t, 64> buf{};
    Writer w(buf.data(), 20);
    w.name(to_wire("www.example.com"));
    const auto mark = w.mark();
    w.u32(1);
    EXPECT_TRUE(w.overflow());
    EXPECT_EQ(w.size(), 17u);
    w.rewind(mark);
    EXPECT_FALSE(w.overflow());
    w.u16(7);
    EXPECT_EQ(w.size(), 19u);
}

TEST(DnsWire, NamesConvertBothWays) {
    EXPECT_EQ(to_wire(""), std::string(1, '\0'));
    EXPECT_EQ(to_text(to_wire("a.b.example")), "a.b.example");
    EXPECT_EQ(to_text(to_wire("")), ".");
}

// Malformed packets get FORMERR (with the question when it was readable) or nothing at all.
TEST(DnsResponder, MalformedPacketsGetFormerrOrSilence) {
    haven::test::FakeRandom random;
    test::Fixture f("dns:\n  listeners: [ { name: m, listen: 127.0.0.1:0 } ]\n  zones:\n"
                    "    - { name: example.com, soa: { primary: ns1, admin: h } }\n",
                    random);
    auto formerr = make_query("example.com", rr::A);
    formerr[5] = 2;
    const auto d = f.ask(formerr);
    EXPECT_EQ(d.rcode, "FORMERR");
    EXPECT_FALSE(d.aa);
    EXPECT_EQ(d.answer.size(), 0u);
    EXPECT_EQ(f.ask(std::vector<std::uint8_t>(5, 0xFF)).size, 0u) << "shorter than a header: no answer";
    QueryOptions response;
    response.flags = 0x8000;
    EXPECT_EQ(f.ask(make_query("example.com", rr::A, response)).size, 0u) << "a response: no answer";
    // Every prefix of a valid query is answered with FORMERR or not at all, never read past.
    const auto q = make_query("www.example.com", rr::A, QueryOptions{.edns = true, .options = test::ecs_v4(1, 2, 3, 24)});
    for (std::size_t n = 0; n < q.size(); ++n) {
        const std::vector<std::uint8_t> cut(q.begin(), q.begin() + static_cast<long>(n));
        const auto r = f.ask(cut);
        if (n < 12) EXPECT_EQ(r.size, 0u) << n;
        else EXPECT_EQ(r.rcode, "FORMERR") << n;
    }
}

} // namespace
} // namespace haven::dns
