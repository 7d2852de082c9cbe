// Head rewriting for forwarding (RFC 9110 §7.6.1 hop-by-hop fields, §6.2 intermediaries send
// their own version, §7.6.3 Via; RFC 9112 §3.2.2 absolute-form).
#include "http/codec.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace haven::http {
namespace {

struct Parsed {
    std::string raw;
    std::vector<Header> storage = std::vector<Header>(128);
    RequestHead req;
    ResponseHead resp;
};

std::unique_ptr<Parsed> parse_request(std::string raw) {
    auto p = std::make_unique<Parsed>();
    p->raw = std::move(raw);
    RequestParser parser({}, p->storage);
    EXPECT_EQ(parser.parse(p->raw, p->req), ParseStatus::Complete) << describe(parser.error());
    return p;
}

std::unique_ptr<Parsed> parse_response(std::string raw, Method m = Method::Get) {
    auto p = std::make_unique<Parsed>();
    p->raw = std::move(raw);
    ResponseParser parser({}, p->storage);
    EXPECT_EQ(parser.parse(p->raw, p->resp, m), ParseStatus::Complete) << describe(parser.error());
    return p;
}

RequestRewrite rewrite(std::string_view id = "0123456789abcdef0123456789abcdef") {
    RequestRewrite rw;
    rw.client_ip = "10.0.0.7";
    rw.request_id = id;
    rw.default_host = "10.1.1.1:8080";
    return rw;
}

TEST(Codec, PlainRequestIsForwardedVerbatimPlusAddedFields) {
    auto p = parse_request("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
    HeadBuilder out;
    build_request_head(p->req, p->raw, rewrite(), out);
    EXPECT_EQ(out.str(), "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n"
                         "X-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\n"
                         "X-Request-Id: 0123456789abcdef0123456789abcdef\r\nVia: 1.1 haven\r\n\r\n");
    EXPECT_EQ(out.count(), 2u) << "one run of received bytes, one run of added fields";
    EXPECT_EQ(out.piece(0).data(), p->raw.data()) << "the received head is not copied";
}

TEST(Codec, HopByHopAndConnectionListedFieldsAreRemoved) {
    auto p = parse_request("POST /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\n"
                           "X-Secret: s\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Connection: close\r\n"
                           "Content-Length: 2\r\nX-Forwarded-Proto: https\r\nX-Request-Id: abc\r\n\r\n");
    HeadBuilder out;
    build_request_head(p->req, p->raw, rewrite(""), out);
    const std::string s = out.str();
    for (const char* gone : {"Connection:", "Keep-Alive:", "X-Secret:", "TE:", "Upgrade:", "Proxy-Connection:"}) {
        EXPECT_EQ(s.find(gone), std::string::npos) << gone;
    }
    EXPECT_NE(s.find("Content-Length: 2\r\n"), std::string::npos);
    EXPECT_NE(s.find("X-Forwarded-Proto: https\r\n"), std::string::npos) << "kept when the client sent one";
    EXPECT_EQ(s.find("X-Forwarded-Proto: http\r\n"), std::string::npos);
    EXPECT_NE(s.find("X-Request-Id: abc\r\n"), std::string::npos);
    EXPECT_EQ(s.find("X-Request-Id: 0"), std::string::npos) << "no second id when the client sent one";
}

TEST(Codec, ExistingForwardedForGetsASecondLine) {
    auto p = parse_request("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n");
    HeadBuilder out;
    build_request_head(p->req, p->raw, rewrite(), out);
    const std::string s = out.str();
    EXPECT_NE(s.find("X-Forwarded-For: 1.2.3.4\r\n"), std::string::npos);
    EXPECT_NE(s.find("X-Forwarded-For: 10.0.0.7\r\n"), std::string::npos);
}

TEST(Codec, ExpectIsNotForwarded) {
    auto p = parse_request("PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    HeadBuilder out;
    build_request_head(p->req, p->raw, rewrite(), out);
    EXPECT_EQ(out.str().find("Expect"), std::string::npos);
}

TEST(Codec, Http10RequestIsSentAsHttp11WithAHost) {
    auto p = parse_request("GET /old HTTP/1.0\r\nAccept: */*\r\n\r\n");
    HeadBuilder out;
    build_request_head(p->req, p->raw, rewrite(), out);
    const std::string s = out.str();
    EXPECT_EQ(s.rfind("GET /old HTTP/1.1\r\n", 0), 0u) << s;
    EXPECT_NE(s.find("Host: 10.1.1.1:8080\r\n"), std::string::npos);
}

TEST(Codec, AbsoluteFormBecomesOriginFormAndHostFollowsTheTarget) {
    auto p = parse_request("GET http://api.example.com:8080/v1/x?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    HeadBuilder out;
    build_request_head(p->req, p->raw, rewrite(), out);
    const std::string s = out.str();
    EXPECT_EQ(s.rfind("GET /v1/x?q=1 HTTP/1.1\r\nHost: api.example.com:8080\r\n", 0), 0u) << s;
    EXPECT_EQ(s.find("Host: other"), std::string::npos);
}

TEST(Codec, ResponseConnectionFieldsAreReplaced) {
    auto p = parse_response("HTTP/1.1 200 OK\r\nServer: nginx\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
                            "Content-Length: 3\r\n\r\n");
    HeadBuilder out;
    build_response_head(p->resp, p->raw, {}, out);
    EXPECT_EQ(out.str(), "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\n\r\n");
    ResponseRewrite close;
    close.connection = ResponseRewrite::Conn::Close;
    build_response_head(p->resp, p->raw, close, out);
    EXPECT_EQ(out.str(), "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
}

TEST(Codec, ExtraFieldsGoAfterTheServersOwnAndBeforeTheBlankLine) {
    auto p = parse_response("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\n\r\n");
    HeadBuilder out;
    ResponseRewrite rw;
    rw.extra_fields = "RateLimit-Policy: \"l0\";q=3;w=60\r\nRateLimit: \"l0\";r=2;t=20\r\n";
    rw.connection = ResponseRewrite::Conn::Close;
    build_response_head(p->resp, p->raw, rw, out);
    EXPECT_EQ(out.str(), "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\nConnection: close\r\n"
                         "RateLimit-Policy: \"l0\";q=3;w=60\r\nRateLimit: \"l0\";r=2;t=20\r\n\r\n");
}

TEST(Codec, Http10ResponseIsRelayedAsHttp11AndDechunkingDropsTransferEncoding) {
    auto p = parse_response("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    HeadBuilder out;
    build_response_head(p->resp, p->raw, {}, out);
    EXPECT_EQ(out.str(), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");

    auto c = parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n");
    ResponseRewrite rw;
    rw.drop_transfer_encoding = true;
    rw.connection = ResponseRewrite::Conn::Close;
    build_response_head(c->resp, c->raw, rw, out);
    EXPECT_EQ(out.str(), "HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\n\r\n");
}

TEST(Codec, ManyDroppedLinesSpillIntoOneCopiedPiece) {
    std::string raw = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 40; ++i) raw += "Keep-Alive: " + std::to_string(i) + "\r\nX-" + std::to_string(i) + ": v\r\n";
    raw += "\r\n";
    auto p = parse_request(raw);
    HeadBuilder out;
    build_request_head(p->req, p->raw, rewrite(), out);
    const std::string s = out.str();
    EXPECT_EQ(s.find("Keep-Alive"), std::string::npos);
    for (int i = 0; i < 40; ++i) EXPECT_NE(s.find("X-" + std::to_string(i) + ": v\r\n"), std::string::npos);
    EXPECT_LE(out.count(), HeadBuilder::kMaxPieces);
}

} // namespace
} // namespace haven::http

namespace haven::http {
namespace {

TEST(Codec, RepeatedContentLengthIsForwardedOnce) {
    // RFC 9112 §6.3 lets a recipient accept identical repeated values; the next hop may not.
    auto p = parse_request("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n");
    HeadBuilder out;
    build_request_head(p->req, p->raw, rewrite(), out);
    const std::string s = out.str();
    EXPECT_EQ(s.find("Content-Length: 3\r\n"), s.rfind("Content-Length: 3\r\n")) << s;
    EXPECT_NE(s.find("Content-Length: 3\r\n"), std::string::npos);

    auto r = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n");
    build_response_head(r->resp, r->raw, {}, out);
    EXPECT_EQ(out.str(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
}

TEST(Codec, HigherMinorVersionsAreSentAsHttp11) {
    // The parser treats HTTP/1.2 as 1.1 (RFC 9110 §2.5); haven still sends its own version.
    auto p = parse_request("GET /x HTTP/1.2\r\nHost: h\r\n\r\n");
    HeadBuilder out;
    build_request_head(p->req, p->raw, rewrite(), out);
    EXPECT_EQ(out.str().rfind("GET /x HTTP/1.1\r\n", 0), 0u);
    auto r = parse_response("HTTP/1.2 204 No Content\r\n\r\n");
    build_response_head(r->resp, r->raw, {}, out);
    EXPECT_EQ(out.str(), "HTTP/1.1 204 No Content\r\n\r\n");
}

// RFC 6455 §4.1: a handshake names "upgrade" in Connection and "websocket" in Upgrade, in any
// case and possibly among other tokens; anything else is not one.
TEST(Codec, WebSocketHandshakeIsRecognised) {
    EXPECT_TRUE(is_websocket_upgrade(parse_request("GET /c HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                                                   "Connection: Upgrade\r\n\r\n")->req));
    EXPECT_TRUE(is_websocket_upgrade(parse_request("GET /c HTTP/1.1\r\nHost: h\r\nUpgrade: foo, WebSocket \r\n"
                                                   "Connection: keep-alive, upgrade\r\n\r\n")->req));
    EXPECT_FALSE(is_websocket_upgrade(parse_request("GET /c HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")->req))
        << "Upgrade not named in Connection";
    EXPECT_FALSE(is_websocket_upgrade(parse_request("GET /c HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n"
                                                    "Connection: Upgrade\r\n\r\n")->req));
    EXPECT_FALSE(is_websocket_upgrade(parse_request("GET /c HTTP/1.1\r\nHost: h\r\nUpgrade: websockets\r\n"
                                                    "Connection: Upgrade\r\n\r\n")->req));
    EXPECT_TRUE(is_websocket_upgrade(parse_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                                    "Connection: Upgrade\r\n\r\n")->resp));
}

TEST(Codec, WebSocketHandshakeKeepsItsUpgradeBothWays) {
    auto p = parse_request("GET /c HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: k\r\n\r\n");
    RequestRewrite rw = rewrite("");
    rw.upgrade_websocket = true;
    HeadBuilder out;
    build_request_head(p->req, p->raw, rw, out);
    EXPECT_EQ(out.str(), "GET /c HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\nX-Forwarded-For: 10.0.0.7\r\n"
                         "X-Forwarded-Proto: http\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nVia: 1.1 haven\r\n\r\n");

    auto r = parse_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: a\r\n\r\n");
    ResponseRewrite rr;
    rr.connection = ResponseRewrite::Conn::UpgradeWebSocket;
    build_response_head(r->resp, r->raw, rr, out);
    EXPECT_EQ(out.str(), "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: a\r\n"
                         "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
}

} // namespace
} // namespace haven::http
