#include "proxy/access_log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace haven::proxy {
namespace {

TEST(AccessLog, FormatsOneJsonObjectWithEveryField) {
    AccessRecord r;
    r.time_us = 1'795'000'000'123'456;
    r.duration_us = 1500;
    r.status = 502;
    r.attempts = 2;
    r.flag = ResponseFlag::UpstreamConnectFailure;
    r.bytes_in = 80;
    r.bytes_out = 120;
    r.client.set("127.0.0.1");
    r.method.set("GET");
    r.path.set("/a\"b\\c\x01");
    r.host.set("example.com");
    r.listener.set("web");
    r.pool.set("api");
    r.server.set("api2");
    r.tried.set("api1,api2");
    r.request_id.set("abc");
    const auto j = nlohmann::json::parse(AccessLogWriter::format(r));
    EXPECT_EQ(j["status"], 502);
    EXPECT_EQ(j["flag"], "upstream connect failure");
    EXPECT_EQ(j["path"], "/a\"b\\c\x01");
    EXPECT_EQ(j["tried"], "api1,api2");
    EXPECT_EQ(j["attempts"], 2);
    EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 1.5);
    EXPECT_EQ(j["time"], "2026-11-18T11:06:40.123456Z");
    for (const char* k : {"client", "listener", "method", "host", "bytes_in", "bytes_out", "pool", "server", "request_id"}) {
        EXPECT_TRUE(j.contains(k)) << k;
    }
}

TEST(AccessLog, NonAsciiBytesAreEscapedSoTheLineIsValidJson) {
    AccessRecord r;
    r.path.set("/\xff\xfe\x7f");
    const std::string line = AccessLogWriter::format(r);
    // Each byte outside printable ASCII is one \u00XX escape: the line itself is plain ASCII.
    EXPECT_NE(line.find(R"("path":"/\u00ff\u00fe\u007f")"), std::string::npos) << line;
    EXPECT_TRUE(std::all_of(line.begin(), line.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) << line;
    const auto j = nlohmann::json::parse(line); // throws (fails the test) if it is not JSON
    EXPECT_EQ(j["path"], "/\u00ff\u00fe\u007f"); // as code points U+00FF U+00FE U+007F
}

TEST(AccessLogRing, DropsWhenFullInsteadOfBlocking) {
    AccessLogRing ring(4);
    AccessRecord r;
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.try_push(r));
    EXPECT_FALSE(ring.try_push(r));
    AccessRecord out;
    EXPECT_TRUE(ring.try_pop(out));
    EXPECT_TRUE(ring.try_push(r));
}

TEST(FixedText, TruncatesLongValues) {
    FixedText<4> t;
    t.set("abcdef");
    EXPECT_EQ(t.view(), "abcd");
}

} // namespace
} // namespace haven::proxy
