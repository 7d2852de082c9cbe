#include "http/local_reply.hpp"

#include <gtest/gtest.h>

#include <string>

namespace haven::http {
namespace {

TEST(LocalReply, CompleteResponseWithReasonInTheBody) {
    char buf[512];
    LocalReplyOptions o;
    o.detail = "upstream connect failure";
    o.close = true;
    o.date_line = "Date: Fri, 27 Nov 2026 02:00:00 GMT\r\n";
    const std::string r(format_local_reply(buf, sizeof buf, 502, o));
    const std::string body = "502 Bad Gateway: upstream connect failure\n";
    EXPECT_EQ(r, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: close\r\nDate: Fri, 27 Nov 2026 02:00:00 GMT\r\n\r\n" + body);
}

TEST(LocalReply, HeadRequestGetsNoBodyButTheLength) {
    char buf[512];
    LocalReplyOptions o;
    o.head_request = true;
    o.extra_fields = "Retry-After: 1\r\n";
    const std::string r(format_local_reply(buf, sizeof buf, 503, o));
    EXPECT_NE(r.find("Retry-After: 1\r\n"), std::string::npos);
    EXPECT_NE(r.find("Content-Length: 24\r\n"), std::string::npos) << r;
    EXPECT_TRUE(r.ends_with("\r\n\r\n"));
}

TEST(LocalReply, TruncatesRatherThanOverflows) {
    char buf[64];
    LocalReplyOptions o;
    const std::string detail(500, 'x');
    o.detail = detail;
    std::string guard(16, '#'); // bytes right after the buffer must stay untouched
    const auto r = format_local_reply(buf, sizeof buf, 400, o);
    EXPECT_EQ(r.size(), sizeof buf);
    EXPECT_EQ(r.data(), buf);
    EXPECT_TRUE(r.starts_with("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n")) << r;
    EXPECT_EQ(guard, std::string(16, '#'));
    // With room for it, the long detail is cut to the body's own bound (254 bytes + newline) and
    // Content-Length says exactly what follows the head.
    char big[1024];
    const std::string full(format_local_reply(big, sizeof big, 400, o));
    const auto head_end = full.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    const std::string body = full.substr(head_end + 4);
    EXPECT_EQ(body.size(), 255u);
    EXPECT_TRUE(body.starts_with("400 Bad Request: xxx")) << body;
    EXPECT_TRUE(body.ends_with("x\n"));
    EXPECT_NE(full.find("Content-Length: 255\r\n"), std::string::npos) << full;
}

} // namespace
} // namespace haven::http
