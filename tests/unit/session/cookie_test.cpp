// The sticky cookie's text work (src/session/cookie.cpp): ids, the inserted lines, the request's
// Cookie fields as forwarded and the server's Set-Cookie as rewritten or prefixed.
#include "session/cookie.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace haven::session {
namespace {

// Field lines as the parser would hand them over, backed by `text`.
struct Fields {
    std::string text;
    std::vector<http::Header> headers;

    Fields(std::initializer_list<std::pair<std::string, std::string>> lines) {
        for (const auto& [n, v] : lines) text += n + ": " + v + "\r\n";
        std::size_t at = 0;
        for (const auto& [n, v] : lines) {
            http::Header h;
            h.name = std::string_view(text).substr(at, n.size());
            h.value = std::string_view(text).substr(at + n.size() + 2, v.size());
            h.line_len = static_cast<std::uint32_t>(n.size() + v.size() + 4);
            h.id = n == "Cookie" ? http::HeaderId::Cookie : http::HeaderId::Other;
            headers.push_back(h);
            at += h.line_len;
        }
    }
};

std::string joined_fields(const std::vector<http::Header>& hs) {
    std::string out;
    for (const auto& h : hs) out += std::string(h.name.data(), h.line_len);
    return out;
}

config::StickyCookie sticky_cookie(config::CookieMode mode, bool indirect = false) {
    config::StickyCookie c;
    c.name = "SRV";
    c.mode = mode;
    c.indirect = indirect;
    return c;
}

TEST(StickyCookie, DerivedValuesAreStableOpaqueAndDistinct) {
    const std::string a = derived_cookie_value("web", "10.0.0.1:80");
    EXPECT_EQ(a, derived_cookie_value("web", "10.0.0.1:80"));
    EXPECT_EQ(a.size(), 12u);
    EXPECT_EQ(a.find("10.0"), std::string::npos);
    EXPECT_NE(a, derived_cookie_value("web", "10.0.0.2:80"));
    EXPECT_NE(a, derived_cookie_value("api", "10.0.0.1:80"));
}

TEST(StickyCookie, InsertLinesCarryEveryAttribute) {
    auto c = sticky_cookie(config::CookieMode::Insert);
    EXPECT_EQ(insert_lines(c, "web1"), "Set-Cookie: SRV=web1; Path=/\r\n");
    c.domain = "example.com";
    c.max_age = std::chrono::hours(1);
    c.httponly = c.secure = c.nocache = true;
    c.samesite = config::SameSite::Lax;
    EXPECT_EQ(insert_lines(c, "web1"),
              "Set-Cookie: SRV=web1; Path=/; Domain=example.com; Max-Age=3600; HttpOnly; Secure; SameSite=Lax\r\n"
              "Cache-Control: private\r\n");
}

TEST(StickyCookie, IdInValueByMode) {
    EXPECT_EQ(id_in_value(config::CookieMode::Insert, "web1"), "web1");
    EXPECT_EQ(id_in_value(config::CookieMode::Prefix, "web1~abc"), "web1");
    EXPECT_EQ(id_in_value(config::CookieMode::Prefix, "abc"), "");
}

TEST(StickyCookie, IndirectInsertTakesTheCookieOffTheRequest) {
    Fields f{{"Host", "a"}, {"Cookie", "a=1; SRV=web1; b=2"}, {"Accept", "*/*"}};
    FieldScratch out;
    ASSERT_TRUE(rewrite_request_cookies(f.headers, sticky_cookie(config::CookieMode::Insert, true), out));
    EXPECT_EQ(joined_fields(out.headers), "Host: a\r\nCookie: a=1; b=2\r\nAccept: */*\r\n");
    // A Cookie field holding only the sticky cookie goes away.
    Fields only{{"Cookie", "SRV=web1"}, {"Accept", "*/*"}};
    ASSERT_TRUE(rewrite_request_cookies(only.headers, sticky_cookie(config::CookieMode::Insert, true), out));
    EXPECT_EQ(joined_fields(out.headers), "Accept: */*\r\n");
}

TEST(StickyCookie, RequestsStayAsTheyAreUnlessTheModeChangesThem) {
    Fields f{{"Cookie", "a=1; SRV=web1"}};
    FieldScratch out;
    EXPECT_FALSE(rewrite_request_cookies(f.headers, sticky_cookie(config::CookieMode::Insert, false), out));
    EXPECT_FALSE(rewrite_request_cookies(f.headers, sticky_cookie(config::CookieMode::Rewrite), out));
    Fields other{{"Cookie", "a=1; b=2"}};
    EXPECT_FALSE(rewrite_request_cookies(other.headers, sticky_cookie(config::CookieMode::Insert, true), out));
}

TEST(StickyCookie, PrefixModeGivesTheServerItsOwnValue) {
    Fields f{{"Cookie", "SRV=web1~s3ss10n; x=y"}};
    FieldScratch out;
    ASSERT_TRUE(rewrite_request_cookies(f.headers, sticky_cookie(config::CookieMode::Prefix), out));
    EXPECT_EQ(joined_fields(out.headers), "Cookie: SRV=s3ss10n; x=y\r\n");
}

TEST(StickyCookie, ResponsesRewriteOrPrefixTheServersCookieKeepingItsAttributes) {
    Fields f{{"Content-Type", "text/plain"}, {"Set-Cookie", "SRV=anything; Path=/; HttpOnly"},
              {"Set-Cookie", "other=1"}};
    FieldScratch out;
    ASSERT_TRUE(rewrite_response_cookies(f.headers, sticky_cookie(config::CookieMode::Rewrite), "web2", out));
    EXPECT_EQ(joined_fields(out.headers),
              "Content-Type: text/plain\r\nSet-Cookie: SRV=web2; Path=/; HttpOnly\r\nSet-Cookie: other=1\r\n");
    ASSERT_TRUE(rewrite_response_cookies(f.headers, sticky_cookie(config::CookieMode::Prefix), "web2", out));
    EXPECT_EQ(joined_fields(out.headers),
              "Content-Type: text/plain\r\nSet-Cookie: SRV=web2~anything; Path=/; HttpOnly\r\nSet-Cookie: other=1\r\n");
    Fields none{{"Set-Cookie", "other=1"}};
    EXPECT_FALSE(rewrite_response_cookies(none.headers, sticky_cookie(config::CookieMode::Rewrite), "web2", out));
    EXPECT_FALSE(rewrite_response_cookies(f.headers, sticky_cookie(config::CookieMode::Insert), "web2", out));
}

TEST(StickyCookie, SetCookieValueFindsTheNamedCookie) {
    Fields f{{"set-cookie", "a=1"}, {"Set-Cookie", "JSESSIONID=abc123; Path=/"}};
    EXPECT_EQ(set_cookie_value(f.headers, "JSESSIONID"), "abc123");
    EXPECT_EQ(set_cookie_value(f.headers, "a"), "1");
    EXPECT_EQ(set_cookie_value(f.headers, "b"), "");
}

} // namespace
} // namespace haven::session
