// The `regions:` and `dns:` keys: a file with every key loads as written; each mistake is refused
// with its file:line:col and a message that says what is wrong — a bad zone is refused whole.
#include "dns_test_support.hpp"

#include "config/dns_values.hpp"

#include <set>

namespace haven::config {
namespace {

using haven::dns::test::errors_of;
using haven::test::offline;
using haven::dns::test::with_base;

const char* kEveryKey = R"(
regions:
  - name: eu
    endpoints: [127.0.0.2:8080, { name: eu-2, address: 127.0.0.3:8080 }]
    health_check: { http: { path: /ready }, interval: 2s, rise: 3, fall: 2 }
    min_healthy: 2
    clients: [10.1.0.0/16, "2001:db8:1::/48"]
dns:
  listeners: [ { name: main, listen: 127.0.0.1:5353 } ]
  health_ttl: 5s
  max_udp_payload: 1400
  client_subnet: false
  max_tcp_connections: 64
  tcp_idle_timeout: 3s
  rrl: { responses_per_second: 50, slip: 3, ipv4_prefix: 22, ipv6_prefix: 48, exempt: [127.0.0.0/8], max_subnets: 4096 }
  zones:
    - name: example.com.
      ttl: 1h
      soa: { primary: ns1, admin: hostmaster@example.com, serial: 2024010101, refresh: 2h, retry: 10m, expire: 7d, negative_ttl: 30 }
      records:
        - { name: www, type: A, ttl: 120, values: [192.0.2.1] }
        - { name: '@', type: MX, value: '10 mail.example.net.' }
        - name: app
          type: A
          routing: failover
          ttl: 15
          members:
            - { role: primary, region: eu, value: 192.0.2.10 }
            - { role: secondary, value: 192.0.2.11, health_check: { tcp: {} }, check_address: 192.0.2.11:443 }
)";

TEST(DnsConfig, EveryKeyLoadsAsWritten) {
    auto r = load_string(with_base(kEveryKey), "every.yaml", offline());
    ASSERT_TRUE(r.config.has_value()) << errors_of(r);
    ASSERT_TRUE(r.config->dns);
    const DnsConfig& d = *r.config->dns;
    ASSERT_EQ(d.regions.size(), 1u);
    const Region& eu = d.regions[0];
    EXPECT_EQ(eu.endpoints.size(), 2u);
    EXPECT_EQ(eu.endpoints[0].name, "127.0.0.2:8080");
    EXPECT_EQ(eu.endpoints[1].name, "eu-2");
    EXPECT_EQ(eu.health_check.path, "/ready");
    EXPECT_EQ(eu.health_check.interval, Duration(2000));
    EXPECT_EQ(eu.health_check.timeout, Duration(2000)) << "derived from the interval, as for pools";
    EXPECT_EQ(eu.health_check.rise, 3u);
    EXPECT_EQ(eu.min_healthy, 2u);
    EXPECT_EQ(eu.clients.size(), 2u);
    ASSERT_TRUE(d.server);
    const DnsServerConfig& s = *d.server;
    EXPECT_EQ(s.listeners.at(0).listen.port, 5353);
    EXPECT_EQ(s.health_ttl, Duration(5000));
    EXPECT_EQ(s.max_udp_payload, 1400u);
    EXPECT_FALSE(s.client_subnet);
    EXPECT_EQ(s.max_tcp_connections, 64u);
    EXPECT_EQ(s.tcp_idle_timeout, Duration(3000));
    EXPECT_EQ(s.rrl.responses_per_second, 50u);
    EXPECT_EQ(s.rrl.slip, 3u);
    EXPECT_EQ(s.rrl.ipv4_prefix, 22u);
    EXPECT_EQ(s.rrl.max_subnets, 4096u);
    const DnsZone& z = s.zones.at(0);
    EXPECT_EQ(z.name, "example.com");
    EXPECT_EQ(z.soa.primary, "ns1.example.com");
    EXPECT_EQ(z.soa.admin, "hostmaster.example.com");
    EXPECT_EQ(z.soa.serial, 2024010101u);
    EXPECT_EQ(z.soa.expire, Duration(7LL * 86400 * 1000));
    EXPECT_EQ(z.soa.negative_ttl, Duration(30000));
    ASSERT_EQ(z.records.size(), 3u);
    EXPECT_EQ(z.records[0].owner, "www.example.com");
    EXPECT_EQ(z.records[0].ttl, Duration(120000));
    EXPECT_EQ(z.records[1].members.at(0).values.at(0).target, "mail.example.net");
    EXPECT_EQ(z.records[1].members.at(0).values.at(0).priority, 10);
    const DnsRecordSet& app = z.records[2];
    EXPECT_EQ(app.routing, DnsRouting::Failover);
    ASSERT_EQ(app.members.size(), 2u);
    EXPECT_EQ(app.members[0].health.kind, DnsHealth::Kind::Region);
    EXPECT_EQ(app.members[1].role, FailoverRole::Secondary);
    EXPECT_EQ(app.members[1].health.kind, DnsHealth::Kind::Check);
    EXPECT_EQ(app.members[1].health.check_address.port, 443);
}

struct BadCase {
    const char* name;
    const char* yaml; // after the base
    int line;         // counted in `yaml` (the base has 2 lines)
    int column;
    const char* message;
};

const char* kZoneHead = "dns:\n"
                        "  listeners: [ { name: m, listen: 127.0.0.1:0 } ]\n"
                        "  zones:\n"
                        "    - name: example.com\n"
                        "      soa: { primary: ns1, admin: h }\n"
                        "      records:\n";

// Each message starts with the key path the loader names, so a case checks the key as well as
// its line and column (those of the value at fault, or of the record or member that lacks one).
const BadCase kBad[] = {
    {"bad A", "        - { name: www, type: A, value: 300.1.1.1 }\n", 7, 40, "records[0].value: expected an IPv4 address"},
    {"bad AAAA", "        - { name: www, type: AAAA, values: [192.0.2.1] }\n", 7, 45,
     "records[0].values[0]: expected an IPv6 address"},
    {"unknown type", "        - { name: www, type: PTR, value: x }\n", 7, 30, "records[0].type: unsupported record type \"PTR\""},
    {"SOA record", "        - { name: www, type: SOA, value: x }\n", 7, 30,
     "records[0].type: SOA is written as the zone's soa: mapping"},
    {"bad MX", "        - { name: '@', type: MX, value: 'mail' }\n", 7, 41, "records[0].value: expected \"PREFERENCE NAME\""},
    {"bad SRV port", "        - { name: _s._tcp, type: SRV, value: '1 2 99999 x' }\n", 7, 46,
     "records[0].value: expected a number from 0 to 65535, got \"99999\""},
    {"wildcard", "        - { name: '*.www', type: A, value: 192.0.2.1 }\n", 7, 19,
     "records[0].name: wildcard names are not supported"},
    {"bad label", "        - { name: 'w w', type: A, value: 192.0.2.1 }\n", 7, 19,
     "records[0].name: invalid character \" \""},
    {"outside zone", "        - { name: www.example.org., type: A, value: 192.0.2.1 }\n", 7, 11,
     "records[0].name: \"www.example.org\" is not in zone \"example.com\""},
    {"duplicate set",
     "        - { name: www, type: A, value: 192.0.2.1 }\n        - { name: WWW, type: A, value: 192.0.2.2 }\n", 8, 11,
     "records[1]: www.example.com A is defined twice (first at 9:11)"}, // the file's line: 2 base lines + 7
    {"cname and other",
     "        - { name: www, type: A, value: 192.0.2.1 }\n        - { name: www, type: CNAME, value: x }\n", 8, 11,
     "records[1]: www.example.com has a CNAME and other records (the other at 9:11)"},
    {"cname at apex", "        - { name: '@', type: CNAME, value: x.example.net. }\n", 7, 11,
     "records[0]: a CNAME cannot be at the zone's own name"},
    {"two cname values", "        - { name: c, type: CNAME, values: [a, b] }\n", 7, 43,
     "records[0].values: a CNAME has exactly one value"},
    {"delegation", "        - { name: sub, type: NS, value: ns.sub }\n", 7, 11, "records[0]: NS records below the zone's name"},
    {"fractional ttl", "        - { name: www, type: A, ttl: 1500ms, value: 192.0.2.1 }\n", 7, 38,
     "records[0].ttl: a TTL is whole seconds"},
    {"no values", "        - { name: www, type: A }\n", 7, 11, "records[0]: needs values: (or value:)"},
    {"unknown region",
     "        - name: app\n          type: A\n          routing: failover\n          members:\n"
     "            - { role: primary, region: uss, value: 192.0.2.1 }\n",
     11, 40, "members[0].region: unknown region \"uss\""},
    {"unknown latency region",
     "        - name: app\n          type: A\n          routing: latency\n          members:\n"
     "            - { region: uss, value: 192.0.2.1 }\n",
     11, 25, "members[0].region: unknown region \"uss\""},
    {"no primary",
     "        - name: app\n          type: A\n          routing: failover\n          members:\n"
     "            - { role: secondary, value: 192.0.2.1 }\n",
     7, 11, "records[0]: routing: failover needs exactly one primary member"},
    {"role missing",
     "        - name: app\n          type: A\n          routing: failover\n          members:\n"
     "            - { value: 192.0.2.1 }\n",
     11, 15, "members[0]: a failover member needs role: primary or secondary"},
    {"two health sources",
     "        - name: app\n          type: A\n          routing: weighted\n          members:\n"
     "            - { value: 192.0.2.1, pool: web, server: web/web1 }\n",
     11, 15, "members[0]: one of region, pool, server or health_check decides a member's health; this one has pool and server"},
    {"unknown server",
     "        - name: app\n          type: A\n          routing: weighted\n          members:\n"
     "            - { value: 192.0.2.1, server: web/web9 }\n",
     11, 43, "members[0].server: pool \"web\" has no server \"web9\""},
    {"check without address",
     "        - name: app\n          type: A\n          routing: multivalue\n          members:\n"
     "            - { value: 192.0.2.1, health_check: { tcp: {} } }\n",
     11, 49, "members[0].health_check: a member's own health_check needs check_address:"},
    {"weight outside weighted",
     "        - name: app\n          type: A\n          routing: multivalue\n          members:\n"
     "            - { value: 192.0.2.1, weight: 2 }\n",
     11, 43, "members[0].weight: weight: applies to routing: weighted"},
    {"latency without region",
     "        - name: app\n          type: A\n          routing: latency\n          members:\n"
     "            - { value: 192.0.2.1 }\n",
     11, 15, "members[0]: a latency member needs region:"},
    {"values on routed",
     "        - name: app\n          type: A\n          routing: weighted\n          values: [192.0.2.1]\n", 10, 19,
     "records[0].values: a record with routing: weighted lists its values under members:"},
};

class DnsConfigBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(DnsConfigBad, IsRefusedAtItsPosition) {
    const BadCase& c = GetParam();
    auto r = load_string(with_base(std::string(kZoneHead) + c.yaml), "zone.yaml", offline());
    EXPECT_FALSE(r.config.has_value());
    const ConfigError* hit = nullptr;
    for (const auto& e : r.errors) {
        if (!hit && e.message.find(c.message) != std::string::npos) hit = &e;
    }
    ASSERT_NE(hit, nullptr) << "no error contains: " << c.message << "\ngot:\n" << errors_of(r);
    EXPECT_EQ(r.errors.size(), 1u + (std::string_view(c.name) == "values on routed")) << "one mistake, one error\n" << errors_of(r);
    EXPECT_EQ(hit->file, "zone.yaml");
    EXPECT_EQ(hit->line, c.line + 2) << errors_of(r);
    EXPECT_EQ(hit->column, c.column) << errors_of(r);
}

INSTANTIATE_TEST_SUITE_P(Table, DnsConfigBad, ::testing::ValuesIn(kBad), [](const auto& info) {
    std::string name;
    for (const char* p = info.param.name; *p; ++p) name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
    return name;
});

TEST(DnsConfig, RegionsAndListenersAreChecked) {
    const auto errors = [](const std::string& yaml) { return errors_of(load_string(with_base(yaml), "r.yaml", offline())); };
    EXPECT_NE(errors("regions: [ { name: eu, endpoints: [127.0.0.2:80] } ]\n").find("a region needs health_check:"),
              std::string::npos);
    EXPECT_NE(errors("regions: [ { name: eu, endpoints: [127.0.0.2:80], health_check: { tcp: {} }, min_healthy: 2 } ]\n")
                  .find("the region could never be up"),
              std::string::npos);
    EXPECT_NE(errors("regions: [ { name: eu, endpoints: [], health_check: { tcp: {} }, clients: [10.0.0.0/33] } ]\n")
                  .find("invalid address range \"10.0.0.0/33\""),
              std::string::npos);
    EXPECT_NE(errors("dns: { listeners: [ { name: a, listen: 127.0.0.1:0 } ] }\n").find("dns: needs zones:"), std::string::npos);
    EXPECT_NE(errors("dns:\n  listeners: [ { name: a, listen: 127.0.0.1:0 } ]\n  zones: [ { name: example.com } ]\n")
                  .find("a zone needs soa:"),
              std::string::npos);
    EXPECT_NE(errors("dns:\n  listeners: [ { name: a, listen: 127.0.0.1:8053 }, { name: b, listen: 127.0.0.1:8053 } ]\n"
                     "  zones: [ { name: example.com, soa: { primary: ns1, admin: h } } ]\n")
                  .find("127.0.0.1:8053 is already used by DNS listener \"a\""),
              std::string::npos);
    EXPECT_NE(errors("dns:\n  listeners: [ { name: a, listen: 127.0.0.1:0 } ]\n  rrl: { slip: 11 }\n"
                     "  zones: [ { name: example.com, soa: { primary: ns1, admin: h } } ]\n")
                  .find("rrl.slip: expected an integer from 0 to 10"),
              std::string::npos);
}

// docs/dns.md points at it: it must keep loading, with every routing kind in it.
TEST(DnsConfig, ShippedExampleLoads) {
    const std::string path = std::string(HAVEN_SOURCE_DIR) + "/examples/dns.yaml";
    auto r = load_file(path); // literal addresses only
    ASSERT_TRUE(r.config.has_value()) << errors_of(r);
    ASSERT_TRUE(r.config->dns && r.config->dns->server);
    EXPECT_EQ(r.config->dns->regions.size(), 2u);
    std::set<DnsRouting> routings;
    for (const auto& rs : r.config->dns->server->zones.at(0).records) routings.insert(rs.routing);
    EXPECT_EQ(routings.size(), 5u) << "simple, failover, latency, weighted and multivalue";
}

TEST(DnsConfig, NestedZonesOwnTheirNames) {
    const std::string yaml = "dns:\n  listeners: [ { name: a, listen: 127.0.0.1:0 } ]\n  zones:\n"
                             "    - { name: example.com, soa: { primary: ns1, admin: h },"
                             " records: [ { name: www.sub, type: A, value: 192.0.2.1 } ] }\n"
                             "    - { name: sub.example.com, soa: { primary: ns1, admin: h } }\n";
    const auto text = errors_of(load_string(with_base(yaml), "n.yaml", offline()));
    EXPECT_NE(text.find("belongs to zone \"sub.example.com\""), std::string::npos) << text;
}

TEST(DnsText, NamesValuesAndTtls) {
    std::string error;
    EXPECT_EQ(dns_text::absolute_name("@", "example.com", error), "example.com");
    EXPECT_EQ(dns_text::absolute_name("WWW", "example.com", error), "www.example.com");
    EXPECT_EQ(dns_text::absolute_name("a.example.net.", "example.com", error), "a.example.net");
    EXPECT_EQ(dns_text::absolute_name(".", "example.com", error), "");
    EXPECT_FALSE(dns_text::absolute_name("a..b", "example.com", error));
    EXPECT_FALSE(dns_text::absolute_name(std::string(64, 'a'), "example.com", error));
    std::string long_name;
    for (int i = 0; i < 4; ++i) long_name += std::string(63, 'a') + ".";
    EXPECT_FALSE(dns_text::absolute_name(long_name, "", error)) << "more than 255 bytes on the wire";
    EXPECT_EQ(dns_text::parse_ttl("300", error), Duration(300000));
    EXPECT_EQ(dns_text::parse_ttl("5m", error), Duration(300000));
    EXPECT_FALSE(dns_text::parse_ttl("-1", error));
    const auto txt = dns_text::parse_value(DnsType::TXT, std::string(600, 'x'), "example.com", error);
    ASSERT_TRUE(txt);
    EXPECT_EQ(txt->strings.size(), 3u) << "split into 255-byte strings";
    EXPECT_TRUE(dns_text::in_zone("a.example.com", "example.com"));
    EXPECT_FALSE(dns_text::in_zone("aexample.com", "example.com"));
}

} // namespace
} // namespace haven::config
