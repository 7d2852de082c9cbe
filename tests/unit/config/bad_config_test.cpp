// A table of broken configs: each must fail with an error at an exact line:column whose message
// contains the given text. Grows with every config bug found (see docs/configuration.md).
#include "config/yaml_loader.hpp"

#include "support/config_helpers.hpp"

#include <gtest/gtest.h>

#include <string>

namespace haven::config {
namespace {

using test::offline;

struct BadCase {
    const char* name;
    const char* yaml;
    int line;
    int column;
    const char* message; // a substring of the full "path: message" text
};

// Every case is this config with one thing broken, so each error has a single cause.
//   listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]
//   pools: [ { name: web, servers: [ { name: w1, address: 127.0.0.1:9001 } ] } ]
const BadCase kCases[] = {
    {"unknown top-level key",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "timeout: { connect: 1s }\n",
     3, 1, "top level: unknown key \"timeout\" (did you mean \"timeouts\"?)"},
    {"unknown listener key",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    pool: web\n"
     "    lisen: 127.0.0.1:8081\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     5, 5, "listeners[0]: unknown key \"lisen\" (did you mean \"listen\"?)"},
    {"unknown match key",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    routes: [ { match: { prefix: /api }, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     4, 26, "listeners[0].routes[0].match: unknown key \"prefix\""},
    {"unknown server key without a near miss",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001, colour: red } ] } ]\n",
     2, 61, "pools[0].servers[0]: unknown key \"colour\""},
    {"unknown keepalive key",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    keepalive: { max_idel: 4 }\n",
     5, 18, "pools[0].keepalive: unknown key \"max_idel\" (did you mean \"max_idle\"?)"},
    {"duration without unit",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "timeouts: { connect: 2 }\n",
     3, 22, "timeouts.connect: invalid duration \"2\" (use a unit: 250ms, 2s, 1m, 1h)"},
    {"zero duration",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "timeouts:\n"
     "  server: 0s\n",
     4, 11, "timeouts.server: duration must be greater than 0, got \"0s\""},
    {"negative duration",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "timeouts: { client_idle: -5s }\n",
     3, 26, "timeouts.client_idle: invalid duration \"-5s\""},
    {"huge duration",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "timeouts: { drain: 99999999999999999999h }\n",
     3, 20, "timeouts.drain: duration \"99999999999999999999h\" is too large"},
    {"bad size",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "limits: { max_header_bytes: 32kb }\n",
     3, 29, "limits.max_header_bytes: expected a size from 1024 to 1048576 bytes"},
    {"size out of range",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "limits: { max_header_bytes: 2MiB }\n",
     3, 29, "got \"2MiB\""},
    {"request line longer than the head",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "limits:\n"
     "  max_header_bytes: 2KiB\n"
     "  max_request_line: 4KiB\n",
     4, 3, "limits.max_request_line: 4096 exceeds limits.max_header_bytes (2048)"},
    {"max_headers out of range",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "limits: { max_headers: 0 }\n",
     3, 24, "limits.max_headers: expected an integer from 1 to 1000, got \"0\""},
    {"threads out of range",
     "threads: 257\n"
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 10, "threads: expected an integer from 1 to 256, got \"257\""},
    {"endpoint without port",
     "listeners: [ { name: web, listen: 127.0.0.1, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 35, "listeners[0].listen: invalid address \"127.0.0.1\""},
    {"server port 0",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:0 } ] } ]\n",
     2, 45, "pools[0].servers[0].address: invalid address \"127.0.0.1:0\""},
    {"unbracketed IPv6",
     "listeners: [ { name: web, listen: \"::1:8080\", pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 35, "expected HOST:PORT with an IPv4 address, [IPv6] or host name"},
    {"unresolvable host",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: \"db.nowhere:5432\" } ] } ]\n",
     2, 45, "pools[0].servers[0].address: cannot resolve host \"db.nowhere\": not found"},
    {"bad mode",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web, mode: HTTP } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 68, "listeners[0].mode: unknown value \"HTTP\" (expected one of: http, tcp)"},
    {"bad balance",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    balance: round_robin\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n",
     4, 14,
     "pools[0].balance: unknown value \"round_robin\" (expected one of: roundrobin, leastconn, "
     "random2, hash)"},
    {"bad hash_on",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    balance: hash\n"
     "    hash_on: query:id\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n",
     5, 14, "pools[0].hash_on: unknown value \"query:id\" (expected source, path, header:NAME"},
    {"hash_on header without a name",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    balance: hash\n"
     "    hash_on: \"header:\"\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n",
     5, 14, "pools[0].hash_on: invalid header name \"\""},
    {"list where a mapping is expected",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "timeouts: [ 1s ]\n",
     3, 11, "timeouts: expected a mapping, got a list"},
    {"mapping where a list is expected",
     "listeners: { name: web, listen: 127.0.0.1:8080, pool: web }\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 12, "listeners: expected a list, got a mapping"},
    {"list where a string is expected",
     "listeners: [ { name: [web], listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 22, "listeners[0].name: expected a string, got a list"},
    {"empty value",
     "listeners:\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 1, "listeners: expected a list, got an empty value"},
    {"top level is a list",
     "- listeners\n",
     1, 1, "top level: expected a mapping, got a list"},
    {"duplicate key",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    name: www\n",
     5, 5, "pools[0]: duplicate key \"name\" (first at 3:5)"},
    {"duplicate top-level key",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "listeners: []\n",
     3, 1, "top level: duplicate key \"listeners\" (first at 1:1)"},
    {"duplicate listener name",
     "listeners:\n"
     "  - { name: web, listen: 127.0.0.1:8080, pool: web }\n"
     "  - { name: web, listen: 127.0.0.1:8081, pool: web }\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     3, 5, "listeners[1].name: duplicate listener name \"web\" (first at 2:5)"},
    {"duplicate pool name",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - { name: web, servers: [ { address: 127.0.0.1:9001 } ] }\n"
     "  - { name: web, servers: [ { address: 127.0.0.1:9002 } ] }\n",
     4, 5, "pools[1].name: duplicate pool name \"web\" (first at 3:5)"},
    {"duplicate server name",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers:\n"
     "      - { name: a, address: 127.0.0.1:9001 }\n"
     "      - { name: a, address: 127.0.0.1:9002 }\n",
     6, 9, "pools[0].servers[1].name: duplicate server name \"a\" in pool \"web\" (first at 5:9)"},
    {"duplicate listen address",
     "listeners:\n"
     "  - { name: a, listen: 127.0.0.1:8080, pool: web }\n"
     "  - { name: b, listen: 127.0.0.1:8080, pool: web }\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     3, 5, "listeners[1].listen: 127.0.0.1:8080 is already used by listener \"a\" at 2:5"},
    {"duplicate listen address spelled differently",
     "listeners:\n"
     "  - { name: a, listen: \"[::1]:8080\", pool: web }\n"
     "  - { name: b, listen: \"[0:0::1]:8080\", pool: web }\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     3, 5, "is already used by listener \"a\""},
    {"unknown pool in a route",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - pool: wbe\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     5, 9, "listeners[0].routes[0].pool: unknown pool \"wbe\" (did you mean \"web\"?)"},
    {"unknown pool on a listener",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: api } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 14, "listeners[0].pool: unknown pool \"api\""},
    {"tcp listener with routes",
     "listeners:\n"
     "  - name: db\n"
     "    listen: 127.0.0.1:5432\n"
     "    mode: tcp\n"
     "    pool: web\n"
     "    routes: [ { pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     6, 15, "listeners[0].routes: a tcp listener cannot have routes"},
    {"tcp listener without pool",
     "listeners: [ { name: db, listen: 127.0.0.1:5432, mode: tcp } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 14, "listeners[0]: a tcp listener needs \"pool\""},
    {"http listener with neither routes nor pool",
     "listeners: [ { name: web, listen: 127.0.0.1:8080 } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 14, "listeners[0]: an http listener needs \"routes\" or \"pool\""},
    {"listener without listen",
     "listeners: [ { name: web, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 14, "listeners[0]: missing \"listen\""},
    {"route without pool",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    routes: [ { match: { path: /a } } ]\n"
     "    pool: web\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     4, 15, "listeners[0].routes[0]: missing \"pool\""},
    {"pool without servers",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [] } ]\n",
     2, 10, "pools[0]: has no servers"},
    {"pool without name",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] }, { servers: [] } ]\n",
     2, 67, "pools[1]: missing \"name\""},
    {"no pools",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n",
     0, 0, "no pools"},
    {"unreachable route",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - pool: web\n"
     "      - match: { path_prefix: /api }\n"
     "        pool: web\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     5, 9, "listeners[0].routes[0]: a route without \"match\" matches every request, so "
           "routes[1] and later are unreachable"},
    {"unreachable listener pool",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    pool: web\n"
     "    routes: [ { pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     5, 15, "the listener's \"pool\" (web) is never used"},
    {"empty match",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    routes: [ { match: {}, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     4, 15, "listeners[0].routes[0].match: has no conditions"},
    {"path without slash",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    routes: [ { match: { path_prefix: api }, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     4, 39, "listeners[0].routes[0].match.path_prefix: invalid path \"api\""},
    {"wildcard in the middle of a host",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    routes: [ { match: { host: \"api.*.com\" }, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     4, 32, "listeners[0].routes[0].match.host: invalid host \"api.*.com\""},
    {"lowercase method",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    routes: [ { match: { methods: [GET, post] }, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     4, 41, "listeners[0].routes[0].match.methods[1]: invalid method \"post\""},
    {"weight not a number",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers:\n"
     "      - { name: web1, address: 127.0.0.1:9001 }\n"
     "      - { name: web2, address: 127.0.0.1:9002, weight: ten }\n",
     6, 56, "pools[0].servers[1].weight: expected an integer from 0 to 256, got \"ten\""},
    {"weight out of range",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001, weight: 257 } ] } ]\n",
     2, 69, "pools[0].servers[0].weight: expected an integer from 0 to 256, got \"257\""},
    {"bad name characters",
     "listeners: [ { name: \"my web\", listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     1, 22, "listeners[0].name: invalid name \"my web\""},
    {"access_log without path",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "access_log: { enabled: true }\n",
     3, 13, "access_log: missing \"path\""},
    {"access_log enabled not a bool",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "access_log: { path: stdout, enabled: yes }\n",
     3, 38, "access_log.enabled: expected true or false, got \"yes\""},
    {"YAML syntax error",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web }\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 1, "YAML syntax error: end of sequence flow not found"},
    {"YAML syntax error: bad indentation",
     "listeners:\n"
     "  - name: web\n"
     "   listen: 127.0.0.1:8080\n",
     3, 4, "YAML syntax error: end of sequence not found"},
    {"two documents",
     "listeners: []\n"
     "---\n"
     "pools: []\n",
     2, 1, "only one YAML document is allowed"},
    // yaml-cpp 0.7's LoadAll loops forever on these (fuzzer finding); see yaml_document.cpp.
    {"comma after a top-level list",
     "- a\n"
     ",\n",
     2, 1, "YAML syntax error: unexpected content after the end of the document"},
    {"comma alone",
     ",",
     1, 1, "YAML syntax error: unexpected content after the end of the document"},
    // Health checks, outlier detection, failover tiers and retries (failover_keys.cpp).
    {"unknown key inside health_check",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      tcp: {}\n"
     "      intervall: 5s\n",
     7, 7, "pools[0].health_check: unknown key \"intervall\" (did you mean \"interval\"?)"},
    {"health_check with both http and tcp",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      http: { path: /health }\n"
     "      tcp: {}\n",
     7, 7, "pools[0].health_check.tcp: a check is one of http, tcp or postgres (another is at 6:7)"},
    {"health_check with neither http nor tcp",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, health_check: { interval: 5s }, "
     "servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 37, "pools[0].health_check: needs http:, tcp: or postgres:"},
    {"expect_status range with its bounds out of range",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      http: { expect_status: [200, \"200-99\"] }\n",
     6, 36, "pools[0].health_check.http.expect_status[1]: status \"200-99\" is out of range"},
    {"expect_status 700",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      http: { expect_status: 700 }\n",
     6, 30, "pools[0].health_check.http.expect_status: status \"700\" is out of range (statuses "
            "are 100 to 599)"},
    {"expect_status range reversed",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      http: { expect_status: [\"399-200\"] }\n",
     6, 31, "expect_status[0]: status range \"399-200\" is reversed"},
    {"check path without slash",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      http: { path: health }\n",
     6, 21, "pools[0].health_check.http.path: invalid path \"health\" (must start with '/'"},
    {"check path with CR LF",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      http: { path: \"/a\\r\\nX: y\" }\n",
     6, 21, "pools[0].health_check.http.path: invalid path \"/a\\x0d\\x0aX: y\": control "
            "characters (such as CR or LF) would break the probe's request line"},
    {"check host with CR LF",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      http: { host: \"example.com\\r\\nX: y\" }\n",
     6, 21, "pools[0].health_check.http.host: invalid host \"example.com\\x0d\\x0aX: y\": "
            "control characters"},
    {"expect_body with a newline",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      http:\n"
     "        expect_body: |\n"
     "          ok\n",
     7, 22, "pools[0].health_check.http.expect_body: must not contain control characters"},
    {"jitter 80%",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, health_check: { tcp: {}, jitter: 80% }, "
     "servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 56, "pools[0].health_check.jitter: expected a percentage from 0% to 50% or a fraction "
            "from 0 to 0.5 (e.g. 10% or 0.1), got \"80%\""},
    {"fall 0",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, health_check: { tcp: {}, fall: 0 }, "
     "servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 54, "pools[0].health_check.fall: expected an integer from 1 to 100, got \"0\""},
    {"check timeout above its interval",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    health_check:\n"
     "      tcp: {}\n"
     "      interval: 2s\n"
     "      timeout: 3s\n",
     8, 16, "pools[0].health_check.timeout: 3s must not exceed interval (2s)"},
    {"check timeout above the default interval",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, health_check: { tcp: {}, timeout: 6s }, "
     "servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 57, "pools[0].health_check.timeout: 6s must not exceed interval (5s, the default)"},
    {"bad retry_on item",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, retry_on: [connect-failure, 501], "
     "servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 51, "pools[0].retry_on[1]: unknown value \"501\" (expected one of: connect-failure, "
            "reset, timeout, 500, 502, 503, 504, 5xx)"},
    {"retries 11",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, retries: 11, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 32, "pools[0].retries: expected an integer from 0 to 10, got \"11\""},
    {"max_retry_ratio 150%",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, max_retry_ratio: 150%, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 40, "pools[0].max_retry_ratio: expected a percentage from 0% to 100% or a fraction from "
            "0 to 1"},
    {"retry_buffer above 16MiB",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, retry_buffer: 17MiB, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 37, "pools[0].retry_buffer: expected a size from 0 to 16777216 bytes"},
    {"bad server state",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001, state: down } ] } ]\n",
     2, 68, "pools[0].servers[0].state: unknown value \"down\" (expected one of: ready, drain, "
            "maint)"},
    {"priority 300",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001, priority: 300 } ] } ]\n",
     2, 71, "pools[0].servers[0].priority: expected an integer from 0 to 255, got \"300\""},
    {"health_check override in a pool without health_check",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers:\n"
     "      - address: 127.0.0.1:9001\n"
     "        health_check: { path: /ping }\n",
     6, 23, "pools[0].servers[0].health_check: pool \"web\" has no health_check to override"},
    {"max_ejection less than base_ejection",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools:\n"
     "  - name: web\n"
     "    servers: [ { address: 127.0.0.1:9001 } ]\n"
     "    outlier_detection:\n"
     "      base_ejection: 1m\n"
     "      max_ejection: 30s\n",
     7, 21, "pools[0].outlier_detection.max_ejection: 30s is less than base_ejection (1m)"},
    {"max_ejected_percent not whole",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, outlier_detection: { max_ejected_percent: 12.5% }, "
     "servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 65, "pools[0].outlier_detection.max_ejected_percent: expected a whole percentage from 0% "
            "to 100%"},
    {"bad on_all_down",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, on_all_down: panic, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 36, "pools[0].on_all_down: unknown value \"panic\" (expected one of: fail, try_all)"},
    {"slo window 10m",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "slo: { window: 10m }\n",
     3, 16, "slo.window: must be from 1h to 90d, got \"10m\""},
    {"listener slo window 91d",
     "listeners:\n"
     "  - name: web\n"
     "    listen: 127.0.0.1:8080\n"
     "    pool: web\n"
     "    slo:\n"
     "      window: 91d\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     6, 15, "listeners[0].slo.window: must be from 1h to 90d, got \"91d\""},
    {"slo availability 0%",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "slo: { availability: 0% }\n",
     3, 22, "slo.availability: must be more than 0% (e.g. 99.95%)"},
    {"slo availability as a bare percentage",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "slo: { availability: 99.95 }\n",
     3, 22, "slo.availability: a bare number is a fraction of 1, so \"99.95\" would be 9995%; "
            "write 99.95% (or 0.9995)"},
    {"slo availability above 100%",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "slo: { availability: 100.01% }\n",
     3, 22, "slo.availability: expected a percentage from 0% to 100% or a fraction from 0 to 1"},
    {"slo error_rate 100%",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "slo: { error_rate: 100% }\n",
     3, 20, "slo.error_rate: must be less than 100%"},
    {"slo latency without unit",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "slo: { latency_p99: 500 }\n",
     3, 21, "slo.latency_p99: invalid duration \"500\""},
    {"unknown slo key",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "slo: { availabilty: 99.9% }\n",
     3, 8, "slo: unknown key \"availabilty\" (did you mean \"availability\"?)"},
    {"admin listen is a data listener's address",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "admin:\n"
     "  listen: 127.0.0.1:8080\n",
     4, 3, "admin.listen: 127.0.0.1:8080 is also the address of listener \"web\""},
    {"admin without listen",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "admin: {}\n",
     3, 8, "admin: missing \"listen\""},
    {"admin listen without port",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "admin: { listen: 127.0.0.1 }\n",
     3, 18, "admin.listen: invalid address \"127.0.0.1\""},
    {"admin token_file that does not exist",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "admin: { listen: 127.0.0.1:9000, token_file: /nonexistent/haven-token }\n",
     3, 46, "admin.token_file: cannot read \"/nonexistent/haven-token\": No such file or "
            "directory"},
    {"server region that is not in regions:",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001, region: eu } ] } ]\n"
     "regions: [ { name: us, endpoints: [127.0.0.3:80], health_check: { tcp: {} } } ]\n",
     2, 69, "pools[0].servers[0].region: unknown region \"eu\""},
    {"fallback pool that does not exist",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, routes: [ { pool: web,\n"
     "    policies: { fallback: { pool: webs } } } ] } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 35, "listeners[0].routes[0].policies.fallback.pool: unknown pool \"webs\" (did you mean \"web\"?)"},
    {"fallback pool that is the route's own",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, routes: [ { pool: web,\n"
     "    policies: { fallback: { pool: web } } } ] } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n",
     2, 35, "fallback.pool: is the route's own pool"},
    {"key that is not a string",
     "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
     "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
     "[a]: 1\n",
     3, 1, "top level: expected a key that is a string, got a list"},
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, FailsAtTheExpectedPosition) {
    const BadCase& c = GetParam();
    auto r = load_string(c.yaml, "bad.yaml", offline());
    EXPECT_FALSE(r.config.has_value());
    std::string all;
    const ConfigError* hit = nullptr;
    for (const auto& e : r.errors) {
        all += e.to_string() + "\n";
        if (hit == nullptr && e.message.find(c.message) != std::string::npos) hit = &e;
    }
    ASSERT_NE(hit, nullptr) << "no error contains: " << c.message << "\ngot:\n" << all;
    EXPECT_EQ(hit->file, "bad.yaml");
    EXPECT_EQ(hit->line, c.line) << all;
    EXPECT_EQ(hit->column, c.column) << all;
}

INSTANTIATE_TEST_SUITE_P(Table, BadConfig, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                             std::string name;
                             for (const char* p = info.param.name; *p != '\0'; ++p) {
                                 bool alnum = std::isalnum(static_cast<unsigned char>(*p)) != 0;
                                 name += alnum ? *p : '_';
                             }
                             return name;
                         });

// The base of the table loads, so each case's error is the one thing it breaks.
TEST(BadConfig, BaseIsValid) {
    auto r = load_string(
        "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
        "pools: [ { name: web, servers: [ { name: w1, address: 127.0.0.1:9001 } ] } ]\n",
        "ok.yaml", offline());
    EXPECT_TRUE(r.config.has_value());
}

// Report all errors, not just the first: two unrelated mistakes give two errors, in order.
TEST(BadConfig, ReportsEveryError) {
    auto r = load_string(
        "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web, mod: tcp } ]\n"
        "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001, weight: x } ] } ]\n",
        "two.yaml", offline());
    ASSERT_EQ(r.errors.size(), 2u);
    EXPECT_EQ(r.errors[0].to_string(),
              "two.yaml:1:62: listeners[0]: unknown key \"mod\" (did you mean \"mode\"?)");
    EXPECT_EQ(r.errors[1].to_string(),
              "two.yaml:2:69: pools[0].servers[0].weight: expected an integer from 0 to 256, "
              "got \"x\"");
}

} // namespace
} // namespace haven::config
