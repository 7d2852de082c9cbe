#include "policy/stale_cache.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace haven::policy {
namespace {

using namespace std::chrono_literals;

// A parsed request and response, kept alive with the bytes their views point into.
struct Exchange {
    std::string req_text, resp_text;
    std::array<http::Header, 32> req_fields{}, resp_fields{};
    http::RequestHead req;
    http::ResponseHead resp;

    Exchange(std::string rq, std::string rs) : req_text(std::move(rq)), resp_text(std::move(rs)) {
        http::RequestParser rp({}, req_fields);
        EXPECT_EQ(rp.parse(req_text, req), http::ParseStatus::Complete) << req_text;
        http::ResponseParser sp({}, resp_fields);
        EXPECT_EQ(sp.parse(resp_text, resp, req.method), http::ParseStatus::Complete) << resp_text;
    }
};

Exchange get(const std::string& resp_fields, const std::string& req_fields = "", const std::string& status = "200 OK",
             const std::string& method = "GET") {
    return Exchange(method + " /a?b=1 HTTP/1.1\r\nHost: Example.COM\r\n" + req_fields + "\r\n",
                    "HTTP/1.1 " + status + "\r\nContent-Length: 5\r\n" + resp_fields + "\r\nhello");
}

std::optional<Storable> check(const Exchange& x, std::uint64_t max_object = 1024) {
    return storable(x.req, x.resp, max_object, 600s);
}

TEST(StaleCache, WhatIsKeptFollowsTheSharedCacheRules) {
    // Cacheable by default: kept, fresh for 0 s, then the route's stale window.
    auto s = check(get(""));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->lifetime, 0s);
    EXPECT_EQ(s->stale_window, 600s);
    // s-maxage wins over max-age; the response's stale-if-error wins over the route's window.
    s = check(get("Cache-Control: max-age=60, s-maxage=30, stale-if-error=120\r\n"));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->lifetime, 30s);
    EXPECT_EQ(s->stale_window, 120s);
    // Not kept: the response forbids or personalises it.
    for (const char* fields : {"Cache-Control: no-store\r\n", "Cache-Control: no-cache\r\n", "Cache-Control: private\r\n",
                               "cache-control: public, PRIVATE\r\n", "Set-Cookie: sid=1\r\n", "Vary: Accept-Encoding\r\n"}) {
        EXPECT_FALSE(check(get(fields))) << fields;
    }
    // Not kept: the request forbids it, or was authorized (unless the response is public).
    EXPECT_FALSE(check(get("", "Cache-Control: no-store\r\n")));
    EXPECT_FALSE(check(get("", "Authorization: Bearer x\r\n")));
    EXPECT_TRUE(check(get("Cache-Control: public\r\n", "Authorization: Bearer x\r\n")));
    // Not kept: not a GET, a partial response, too large, or a status not cacheable by default
    // without explicit freshness.
    EXPECT_FALSE(check(get("", "", "200 OK", "POST")));
    EXPECT_FALSE(check(get("", "", "206 Partial Content")));
    EXPECT_FALSE(check(get(""), 4));
    EXPECT_FALSE(check(get("", "", "500 Internal Server Error")));
    EXPECT_FALSE(check(get("", "", "302 Found")));
    EXPECT_TRUE(check(get("Cache-Control: max-age=5\r\n", "", "302 Found")));
    EXPECT_TRUE(check(get("", "", "404 Not Found")));
}

TEST(StaleCache, TheKeyIsTheHostAnyCaseAndTheTarget) {
    EXPECT_EQ(stale_key(get("").req), "example.com /a?b=1");
}

TEST(StaleCache, TheStoredHeadDropsFramingDateAgeAndHopByHopFields) {
    auto x = get("Date: Sun, 06 Dec 2026 10:00:00 GMT\r\nAge: 3\r\nConnection: close\r\nETag: \"v1\"\r\nX-App: 1\r\n");
    EXPECT_EQ(stored_head(x.resp), "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nX-App: 1\r\n");
}

TEST(StaleCache, ACopyAnswersUntilItsLifetimeAndStaleWindowHavePassed) {
    StaleCache c(1 << 20);
    const TimePoint t0{std::chrono::seconds(1000)};
    c.put("k", {"HTTP/1.1 200 OK\r\n", "body", t0, 90s});
    ASSERT_NE(c.get("k", t0 + 90s), nullptr);
    EXPECT_EQ(c.get("k", t0 + 90s)->body, "body");
    EXPECT_EQ(c.get("k", t0 + 91s), nullptr); // expired: dropped
    EXPECT_EQ(c.bytes(), 0u);
    EXPECT_EQ(c.get("other", t0), nullptr);
}

TEST(StaleCache, ItStaysWithinItsBytesByDroppingTheLeastRecentlyUsed) {
    const std::string body(300, 'x');
    StaleCache c(1000); // room for two entries of ~450 bytes
    const TimePoint t0{std::chrono::seconds(1)};
    c.put("a", {"h", body, t0, 1h});
    c.put("b", {"h", body, t0, 1h});
    ASSERT_NE(c.get("a", t0), nullptr); // a is now the most recently used
    c.put("c", {"h", body, t0, 1h});
    EXPECT_NE(c.get("a", t0), nullptr);
    EXPECT_EQ(c.get("b", t0), nullptr);
    EXPECT_NE(c.get("c", t0), nullptr);
    EXPECT_LE(c.bytes(), 1000u);
    // A newer copy replaces the old one; a copy larger than the whole cache is not kept.
    c.put("a", {"h", "new", t0, 1h});
    EXPECT_EQ(c.get("a", t0)->body, "new");
    c.put("huge", {"h", std::string(2000, 'y'), t0, 1h});
    EXPECT_EQ(c.get("huge", t0), nullptr);
    EXPECT_NE(c.get("c", t0), nullptr);
}

} // namespace
} // namespace haven::policy
