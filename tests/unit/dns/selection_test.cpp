// Health-driven record sets, Route 53 style: which members are answered as health changes
// (compute_view), the per-answer draw (weighted, multivalue, latency; a FakeRandom steers it),
// the events that say what changed, and answers through the Responder with Client Subnet.
#include "dns_test_support.hpp"

#include "dns/selection.hpp"
#include "support/fake_random.hpp"

#include <set>

namespace haven::dns {
namespace {

using haven::test::FakeRandom;

const char* kRouted = R"(
regions:
  - { name: eu, endpoints: [127.0.0.2:80], health_check: { tcp: {} }, clients: [10.1.0.0/16] }
  - { name: us, endpoints: [127.0.0.3:80], health_check: { tcp: {} }, clients: [10.2.0.0/16, 10.2.3.0/24] }
dns:
  listeners: [ { name: main, listen: 127.0.0.1:0 } ]
  zones:
    - name: example.com
      soa: { primary: ns1, admin: hostmaster }
      records:
        - name: app
          type: A
          routing: failover
          members:
            - { role: primary, region: eu, value: 127.0.0.2 }
            - { role: secondary, region: us, value: 127.0.0.3 }
        - name: w
          type: A
          routing: weighted
          members:
            - { weight: 3, value: 192.0.2.1, pool: web }
            - { weight: 1, value: 192.0.2.2, server: web/web2 }
            - { weight: 0, value: 192.0.2.3 }
        - name: mv
          type: A
          routing: multivalue
          members:
            - { values: [192.0.2.11, 192.0.2.12, 192.0.2.13, 192.0.2.14, 192.0.2.15], region: eu }
            - { values: [192.0.2.21, 192.0.2.22, 192.0.2.23, 192.0.2.24, 192.0.2.25], region: us }
        - name: near
          type: A
          routing: latency
          members:
            - { region: us, value: 192.0.2.102 }
            - { region: eu, value: 192.0.2.101 }
)";

class Routing : public ::testing::Test {
protected:
    // Sources in order of first use: region eu, region us, pool web, server web/web2.
    std::vector<bool> health(bool eu, bool us, bool pool = true, bool server = true) const {
        std::vector<bool> up(f_.data().sources.size(), true);
        for (std::size_t i = 0; i < up.size(); ++i) {
            const auto& label = f_.data().sources[i].label;
            if (label == "region eu") up[i] = eu;
            if (label == "region us") up[i] = us;
            if (label == "pool web") up[i] = pool;
            if (label == "server web/web2") up[i] = server;
        }
        return up;
    }
    std::size_t set(const std::string& label) const {
        for (std::size_t i = 0; i < f_.data().routed.size(); ++i) {
            if (f_.data().routed[i].label == label) return i;
        }
        ADD_FAILURE() << "no set " << label;
        return 0;
    }

    FakeRandom random_;
    test::Fixture f_{kRouted, random_};
};

TEST_F(Routing, SourcesAreSharedAndLabelled) {
    std::set<std::string> labels;
    for (const auto& s : f_.data().sources) labels.insert(s.label);
    EXPECT_EQ(labels, (std::set<std::string>{"region eu", "region us", "pool web", "server web/web2"}));
}

TEST_F(Routing, FailoverAnswersThePrimaryThenTheSecondaryThenThePrimaryAgain) {
    const auto i = set("app.example.com A");
    const auto view = [&](bool eu, bool us) { return compute_view(f_.data(), health(eu, us)).sets[i]; };
    EXPECT_EQ(view(true, true).members, std::vector<std::uint16_t>{0});
    EXPECT_EQ(view(true, false).members, std::vector<std::uint16_t>{0});
    EXPECT_EQ(view(false, true).members, std::vector<std::uint16_t>{1});
    const auto none = view(false, false);
    EXPECT_EQ(none.members, std::vector<std::uint16_t>{0}) << "Route 53 answers the primary when both are unhealthy";
    EXPECT_TRUE(none.all_unhealthy);
}

TEST_F(Routing, EventsSayWhatChangedAndWhatIsAnsweredNow) {
    EventLog events;
    const auto before = health(true, true), after = health(false, true), neither = health(false, false);
    const auto v1 = compute_view(f_.data(), before), v2 = compute_view(f_.data(), after), v3 = compute_view(f_.data(), neither);
    EXPECT_EQ(record_changes(f_.data(), v1, v2, before, after, events), 3u) << "app, mv and near follow eu";
    std::vector<std::string> details;
    for (const auto& e : events.since()) details.push_back(e.kind + ": " + e.detail);
    EXPECT_NE(std::find(details.begin(), details.end(), "dns_failover: app.example.com A: region eu down -> answers now us"),
              details.end())
        << ::testing::PrintToString(details);
    record_changes(f_.data(), v2, v3, after, neither, events);
    EXPECT_EQ(events.count("dns_all_unhealthy"), 3u);
    const auto last = events.since();
    EXPECT_NE(std::find_if(last.begin(), last.end(),
                           [](const Event& e) {
                               return e.detail == "app.example.com A: region us down -> answers now all members (none healthy)";
                           }),
              last.end());
    EventLog quiet;
    EXPECT_EQ(record_changes(f_.data(), v2, v2, after, after, quiet), 0u);
    EXPECT_TRUE(quiet.since().empty());
}

TEST_F(Routing, WeightedDrawsByWeightAmongHealthyMembers) {
    const auto i = set("w.example.com A");
    const auto& rs = f_.data().routed[i];
    const auto draw = [&](const std::vector<bool>& up, std::uint64_t value) {
        FakeRandom r({value});
        std::vector<const Rdata*> out;
        pick(rs, compute_view(f_.data(), up).sets[i], {}, r, out);
        return out.size() == 1 ? out[0]->text : std::string("?");
    };
    // Total weight 4 (the weight-0 member never wins while others can): 0..2 -> .1, 3 -> .2.
    EXPECT_EQ(draw(health(true, true), FakeRandom::for_below(0, 4)), "192.0.2.1");
    EXPECT_EQ(draw(health(true, true), FakeRandom::for_below(2, 4)), "192.0.2.1");
    EXPECT_EQ(draw(health(true, true), FakeRandom::for_below(3, 4)), "192.0.2.2");
    // The pool down: weights 1 (+0) -> always .2.
    EXPECT_EQ(draw(health(true, true, false), FakeRandom::for_below(0, 1)), "192.0.2.2");
    // The pool and the server down: only the weight-0 member is healthy; it is answered.
    EXPECT_EQ(draw(health(true, true, false, false), 0), "192.0.2.3");
}

TEST_F(Routing, MultivalueAnswersAtMostEightHealthyValuesShuffled) {
    const auto i = set("mv.example.com A");
    const auto& rs = f_.data().routed[i];
    const auto answer = [&](const std::vector<bool>& up, std::uint64_t seed) {
        FakeRandom r({seed, seed * 7 + 3, seed * 13 + 1});
        std::vector<const Rdata*> out;
        pick(rs, compute_view(f_.data(), up).sets[i], {}, r, out);
        std::vector<std::string> texts;
        for (const auto* v : out) texts.push_back(v->text);
        return texts;
    };
    const auto both = answer(health(true, true), 0x9e3779b97f4a7c15ULL);
    EXPECT_EQ(both.size(), kMultivalueMax);
    EXPECT_EQ(std::set<std::string>(both.begin(), both.end()).size(), both.size()) << "no value twice";
    const auto eu_only = answer(health(true, false), 1);
    EXPECT_EQ(eu_only.size(), 5u);
    for (const auto& v : eu_only) EXPECT_TRUE(v.starts_with("192.0.2.1")) << v;
    EXPECT_NE(answer(health(true, true), 0x1234567890abcdefULL), both) << "another draw, another order";
    EXPECT_EQ(answer(health(false, false), 5).size(), kMultivalueMax) << "none healthy: answered as if all were";
}

TEST_F(Routing, LatencyPrefersTheClientsRegionByClientSubnetOrSource) {
    const auto ask = [&](const std::vector<std::uint8_t>& q, ClientAddress c = {}) {
        const auto d = f_.ask(q, Transport::Udp, c);
        return d.answer.size() == 1 ? d.answer[0] : std::string("?");
    };
    test::QueryOptions ecs;
    ecs.edns = true;
    ecs.options = test::ecs_v4(10, 1, 7, 24);
    EXPECT_EQ(ask(test::make_query("near.example.com", rr::A, ecs)), "near.example.com. 10 IN A 192.0.2.101");
    // The echoed option: family 1, source 24, scope 24 (the answer depended on the subnet).
    const auto& raw = f_.raw();
    ASSERT_GE(raw.size(), 7u);
    EXPECT_EQ(std::vector<std::uint8_t>(raw.end() - 7, raw.end()), (std::vector<std::uint8_t>{0, 1, 24, 24, 10, 1, 7}));
    ecs.options = test::ecs_v4(10, 2, 3, 24);
    EXPECT_EQ(ask(test::make_query("near.example.com", rr::A, ecs)), "near.example.com. 10 IN A 192.0.2.102");

    ClientAddress eu_client;
    eu_client.bytes = {10, 1, 0, 9};
    EXPECT_EQ(ask(test::make_query("near.example.com", rr::A), eu_client), "near.example.com. 10 IN A 192.0.2.101");
    EXPECT_EQ(ask(test::make_query("near.example.com", rr::A)), "near.example.com. 10 IN A 192.0.2.102")
        << "a client in no region gets the first member";
    f_.set_health(health(false, true));
    EXPECT_EQ(ask(test::make_query("near.example.com", rr::A), eu_client), "near.example.com. 10 IN A 192.0.2.102")
        << "its region down: the next healthy member";
}

TEST_F(Routing, RoutedSetsUseTheLowHealthTtlAndAnswerThroughTheResponder) {
    const auto d = f_.ask("app.example.com", rr::A);
    EXPECT_EQ(d.answer, std::vector<std::string>{"app.example.com. 10 IN A 127.0.0.2"});
    f_.set_health(health(false, true));
    EXPECT_EQ(f_.ask("app.example.com", rr::A).answer, std::vector<std::string>{"app.example.com. 10 IN A 127.0.0.3"});
}

} // namespace
} // namespace haven::dns
