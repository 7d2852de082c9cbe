// ResponseParser tables (framing per RFC 9112 §6.3 depends on the request), then what both
// parsers share: limits (414, 431), early rejection before a head is complete, reuse, and the
// error helpers.
#include "http/parser.hpp"
#include "http/syntax.hpp"

#include "unit/http/parser_test_util.hpp"

#include <gtest/gtest.h>

#include <string>

namespace haven::http {
namespace {

using namespace std::string_literals;
using test::RequestFeeder;
using test::ResponseFeeder;
using test::Snap;

constexpr ParserLimits kResponseLimits{};

Snap response(const std::string& msg, Method request_method = Method::Get) {
    return test::expect_split_proof<ResponseFeeder>(msg, kResponseLimits, std::size_t{32}, request_method);
}

struct ValidResponse {
    const char* name;
    std::string raw;
    Method request;
    int status;
    const char* reason;
    BodyKind body;
    std::uint64_t content_length;
    bool keep_alive;
};

const ValidResponse kValidResponses[] = {
    {"ContentLength_RFC9112_6_3_r6", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", Method::Get, 200, "OK",
     BodyKind::ContentLength, 5, true},
    {"Chunked_RFC9112_6_3_r4", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Method::Get, 200,
     "OK", BodyKind::Chunked, 0, true},
    {"GzipThenChunked_RFC9112_6_3_r4", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Method::Post,
     200, "OK", BodyKind::Chunked, 0, true},
    {"ChunkedNotLastReadsUntilClose_RFC9112_6_3_r4", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
     Method::Get, 200, "OK", BodyKind::UntilClose, 0, true},
    {"GzipOnlyReadsUntilClose_RFC9112_6_3_r4", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Method::Get, 200,
     "OK", BodyKind::UntilClose, 0, true},
    {"NoLengthReadsUntilClose_RFC9112_6_3_r8", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", Method::Get, 200, "OK",
     BodyKind::UntilClose, 0, true},
    {"HeadHasNoBody_RFC9112_6_3_r1", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", Method::Head, 200, "OK",
     BodyKind::None, 0, true},
    {"HeadChunkedHasNoBody_RFC9112_6_3_r1", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::Head, 200,
     "OK", BodyKind::None, 0, true},
    {"NoContent_RFC9112_6_3_r1", "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", Method::Get, 204,
     "No Content", BodyKind::None, 0, true},
    {"NotModified_RFC9112_6_3_r1", "HTTP/1.1 304 Not Modified\r\nContent-Length: 615\r\n\r\n", Method::Get, 304,
     "Not Modified", BodyKind::None, 0, true},
    {"Continue_RFC9112_6_3_r1", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", Method::Post, 100, "Continue",
     BodyKind::None, 0, true},
    {"SwitchingProtocols_RFC9110_15_2_2",
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", Method::Get, 101,
     "Switching Protocols", BodyKind::None, 0, true},
    {"ConnectEstablished_RFC9112_6_3_r2", "HTTP/1.1 200 Connection Established\r\nContent-Length: 9\r\n\r\n",
     Method::Connect, 200, "Connection Established", BodyKind::None, 0, true},
    {"ConnectRefusedHasBody_RFC9112_6_3_r2", "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\nno",
     Method::Connect, 407, "Proxy Auth", BodyKind::ContentLength, 2, true},
    {"MissingReasonAndSpace_RFC9112_4", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", Method::Get, 200, "",
     BodyKind::ContentLength, 0, true},
    {"EmptyReason_RFC9112_4", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", Method::Get, 404, "",
     BodyKind::ContentLength, 0, true},
    {"ReasonObsTextAndTab_RFC9112_4", "HTTP/1.1 599 Caf\xc3\xa9\tok \r\nContent-Length: 0\r\n\r\n", Method::Get, 599,
     "Caf\xc3\xa9\tok ", BodyKind::ContentLength, 0, true},
    {"Status999_RFC9110_15", "HTTP/1.1 999 X\r\nContent-Length: 0\r\n\r\n", Method::Get, 999, "X",
     BodyKind::ContentLength, 0, true},
    {"Http10CloseByDefault_RFC9112_9_3", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", Method::Get, 200, "OK",
     BodyKind::ContentLength, 1, false},
    {"Http10KeepAlive_RFC9112_9_3", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
     Method::Get, 200, "OK", BodyKind::ContentLength, 1, true},
    {"ConnectionClose_RFC9112_9_6", "HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
     Method::Get, 500, "Oops", BodyKind::ContentLength, 0, false},
    {"Nginx_RFC9112_4",
     "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 27 Nov 2023 10:15:32 GMT\r\nContent-Type: text/html\r\n"
     "Content-Length: 615\r\nLast-Modified: Tue, 11 Apr 2023 01:45:34 GMT\r\nConnection: keep-alive\r\n"
     "ETag: \"6434bbbe-267\"\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nAccept-Ranges: bytes\r\n\r\n",
     Method::Get, 200, "OK", BodyKind::ContentLength, 615, true},
};

class ValidResponseTest : public ::testing::TestWithParam<ValidResponse> {};

TEST_P(ValidResponseTest, ParsesTheSameWholeSplitAndByteByByte) {
    const ValidResponse& v = GetParam();
    const Snap s = response(v.raw, v.request);
    ASSERT_EQ(s.status, ParseStatus::Complete) << describe(s.error);
    EXPECT_EQ(s.status_code, v.status);
    EXPECT_EQ(s.reason, v.reason);
    EXPECT_EQ(s.body, v.body);
    EXPECT_EQ(s.content_length, v.content_length);
    EXPECT_EQ(s.keep_alive, v.keep_alive);
    EXPECT_EQ(s.line_size, v.raw.find("\r\n") + 2);
    EXPECT_EQ(s.head_size, v.raw.find("\r\n\r\n") + 4);
}

INSTANTIATE_TEST_SUITE_P(Table, ValidResponseTest, ::testing::ValuesIn(kValidResponses),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ResponseParser, MarksHopByHopFields_RFC9110_7_6_1) {
    const Snap s = response("HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nKeep-Alive: 5\r\nX-Secret: 1\r\n"
                            "Transfer-Encoding: chunked\r\nTrailer: X\r\n\r\n");
    std::string hop;
    for (const auto& h : s.headers) hop += h.hop_by_hop ? 'h' : '.';
    EXPECT_EQ(hop, "hhh..");
    EXPECT_TRUE(s.trailer);
    EXPECT_EQ(s.version_minor, 1);
}

struct InvalidResponse {
    const char* name;
    std::string raw;
    ParseError error;
};

const InvalidResponse kInvalidResponses[] = {
    {"LowercaseVersion_RFC9112_2_3", "http/1.1 200 OK\r\n\r\n", ParseError::BadVersion},
    {"EmptyLineBefore_RFC9112_2_2", "\r\nHTTP/1.1 200 OK\r\n\r\n", ParseError::BadVersion},
    {"Http2_RFC9110_6_2", "HTTP/2.0 200 OK\r\n\r\n", ParseError::UnsupportedVersion},
    {"DoubleSpace_RFC9112_4", "HTTP/1.1  200 OK\r\n\r\n", ParseError::BadStatusCode},
    {"NoSpace_RFC9112_4", "HTTP/1.1200 OK\r\n\r\n", ParseError::BadStatusLine},
    {"StatusThenLetter_RFC9112_4", "HTTP/1.1 200X\r\n\r\n", ParseError::BadStatusLine},
    {"NulInReason_RFC9112_4", "HTTP/1.1 200 O\0K\r\n\r\n"s, ParseError::BadStatusLine},
    {"TwoDigits_RFC9112_4", "HTTP/1.1 20 OK\r\n\r\n", ParseError::BadStatusCode},
    {"FourDigits_RFC9112_4", "HTTP/1.1 2000 OK\r\n\r\n", ParseError::BadStatusCode},
    {"Below100_RFC9110_15", "HTTP/1.1 099 OK\r\n\r\n", ParseError::BadStatusCode},
    {"Letters_RFC9112_4", "HTTP/1.1 abc OK\r\n\r\n", ParseError::BadStatusCode},
    {"LengthAndChunked_RFC9112_6_1", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::LengthAndChunked},
    {"LengthAndChunkedEvenFor304_RFC9112_6_1",
     "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", ParseError::LengthAndChunked},
    {"DifferentLengths_RFC9112_6_3_r5", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
     ParseError::BadContentLength},
    {"ChunkedTwice_RFC9112_7", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
     ParseError::BadTransferEncoding},
    {"EmptyTransferEncoding_RFC9112_6_1", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", ParseError::BadTransferEncoding},
    {"Http10Chunked_RFC9112_6_1", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::TransferEncodingInHttp10},
    {"ObsFold_RFC9112_5_2", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ParseError::ObsFold},
    {"LeadingWhitespace_RFC9112_2_2", "HTTP/1.1 200 OK\r\n\tX: a\r\n\r\n", ParseError::LeadingWhitespace},
    {"BareLF_RFC9112_2_2", "HTTP/1.1 200 OK\nX: a\n\n", ParseError::BareLF},
    {"BareCR_RFC9112_2_2", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", ParseError::BareCR},
    {"SpaceBeforeColon_RFC9112_5_1", "HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\n", ParseError::WhitespaceBeforeColon},
};

class InvalidResponseTest : public ::testing::TestWithParam<InvalidResponse> {};

TEST_P(InvalidResponseTest, IsRejectedWholeSplitAndByteByByte) {
    const InvalidResponse& v = GetParam();
    const Snap s = response(v.raw);
    EXPECT_EQ(s.status, ParseStatus::Error);
    EXPECT_EQ(s.error, v.error) << describe(s.error);
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidResponseTest, ::testing::ValuesIn(kInvalidResponses),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Limits: max_request_line (414) and max_head_bytes (431) count every byte including CRLFs.

Snap request(const std::string& msg, ParserLimits limits, std::size_t storage = 32) {
    return test::expect_split_proof<RequestFeeder>(msg, limits, storage);
}

TEST(Limits, RequestLineAtTheLimitPassesOneMoreIs414_RFC9112_3) {
    const ParserLimits lim{.max_head_bytes = 1024, .max_request_line = 64};
    const std::string line_at_limit = "GET /" + std::string(64 - 16, 'a') + " HTTP/1.1\r\n";
    ASSERT_EQ(line_at_limit.size(), 64u);
    EXPECT_EQ(request(line_at_limit + "Host: a\r\n\r\n", lim).status, ParseStatus::Complete);
    const std::string too_long = "GET /" + std::string(64 - 15, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    EXPECT_EQ(request(too_long, lim).error, ParseError::RequestLineTooLong);
}

TEST(Limits, RequestLineTooLongIsReportedAsSoonAsTheLimitArrives_RFC9112_3) {
    RequestFeeder f(ParserLimits{}, 8);
    const std::string line = "GET /" + std::string(9000, 'a');
    EXPECT_EQ(f.feed(std::string_view(line).substr(0, 8191)).status, ParseStatus::NeedMore);
    EXPECT_EQ(f.feed(std::string_view(line).substr(0, 8192)).error, ParseError::RequestLineTooLong);
    RequestFeeder whole(ParserLimits{}, 8);
    EXPECT_EQ(whole.feed(line).error, ParseError::RequestLineTooLong);
    EXPECT_EQ(status_for(ParseError::RequestLineTooLong), 414);
}

TEST(Limits, HeadAtTheLimitPassesOneMoreIs431_RFC6585_5) {
    const ParserLimits lim{.max_head_bytes = 100, .max_request_line = 8192};
    std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    head += std::string(100 - head.size() - 4, 'v') + "\r\n\r\n";
    ASSERT_EQ(head.size(), 100u);
    EXPECT_EQ(request(head, lim).status, ParseStatus::Complete);
    head.insert(head.size() - 4, "v");
    EXPECT_EQ(request(head, lim).error, ParseError::HeadTooLarge);
    EXPECT_EQ(request(head, lim).error, ParseError::HeadTooLarge);
    ResponseFeeder resp(lim, 8);
    EXPECT_EQ(resp.feed("HTTP/1.1 200 OK\r\nX: " + std::string(200, 'v')).error, ParseError::HeadTooLarge);
}

TEST(Limits, HugeHeadersAre431WithoutWaitingForTheEnd_RFC6585_5) {
    RequestFeeder f(ParserLimits{}, 256);
    std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
    while (head.size() < 40000) head += "X-Filler: " + std::string(200, 'f') + "\r\n";
    EXPECT_EQ(f.feed(std::string_view(head).substr(0, 32767)).status, ParseStatus::NeedMore);
    EXPECT_EQ(f.feed(head).error, ParseError::HeadTooLarge);
    EXPECT_EQ(status_for(ParseError::HeadTooLarge), 431);
}

TEST(Limits, HeaderStorageFullIsOkOneMoreIs431_RFC6585_5) {
    std::string msg = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 7; ++i) msg += "X-" + std::to_string(i) + ": v\r\n";
    const Snap s = request(msg + "\r\n", kResponseLimits, 8);
    EXPECT_EQ(s.headers.size(), 8u);
    EXPECT_EQ(request(msg + "X-8: v\r\n\r\n", kResponseLimits, 8).error, ParseError::TooManyHeaders);
    EXPECT_EQ(status_for(ParseError::TooManyHeaders), 431);
}

// ---------------------------------------------------------------------------------------------
// Errors that are certain before the head is complete are reported at once.

TEST(EarlyRejection, ControlCharactersAndBadLineEndsInAnIncompleteHead_RFC9112_2_2) {
    const std::pair<std::string, ParseError> cases[] = {
        {"GET /a\x01", ParseError::BadTarget},
        {"GE\x7f", ParseError::BadMethod},
        {"GET / HTTP/1.1\n", ParseError::BareLF},
        {"GET / HTTP/1.1\rX", ParseError::BareCR},
        {"GET /<", ParseError::BadTarget},
        {"GET / HTTP/2.0\r\n", ParseError::UnsupportedVersion},
        {"GET / HTTP/1.1\r\nHost: a\nX", ParseError::BareLF},
        {"GET / HTTP/1.1\r\nHost: a\rX", ParseError::BareCR},
        {"GET / HTTP/1.1\r\nHost: a\r\n\rX", ParseError::BareCR},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: \x00"s, ParseError::BadHeaderValue},
        {"GET / HTTP/1.1\r\nHo st: a\r\nX: \x01"s, ParseError::BadHeaderName},
    };
    for (const auto& [prefix, error] : cases) {
        RequestFeeder f(kResponseLimits, 8);
        EXPECT_EQ(f.feed(prefix).error, error) << prefix;
        // Also when the bad byte comes after an earlier, harmless piece.
        RequestFeeder g(kResponseLimits, 8);
        EXPECT_EQ(g.feed(std::string_view(prefix).substr(0, 2)).status, ParseStatus::NeedMore) << prefix;
        EXPECT_EQ(g.feed(prefix).error, error) << prefix;
    }
}

TEST(EarlyRejection, UndecidedUntilTheByteAfterACR_RFC9112_2_2) {
    RequestFeeder f(kResponseLimits, 8);
    EXPECT_EQ(f.feed("GET / HTTP/1.1\r").status, ParseStatus::NeedMore);
    EXPECT_EQ(f.feed("GET / HTTP/1.1\r\nHost: a\r").status, ParseStatus::NeedMore);
    EXPECT_EQ(f.feed("GET / HTTP/1.1\r\nHost: a\r\n\r").status, ParseStatus::NeedMore);
    EXPECT_EQ(f.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, ParseStatus::Complete);
}

TEST(EarlyRejection, FieldErrorsWaitForTheHeadUnlessCertain) {
    // A bad field name is only reported with the complete head (or a certain error after it),
    // so the answer never depends on how the bytes were split.
    RequestFeeder f(kResponseLimits, 8);
    EXPECT_EQ(f.feed("GET / HTTP/1.1\r\nX(: a\r\nHost").status, ParseStatus::NeedMore);
    EXPECT_EQ(f.feed("GET / HTTP/1.1\r\nX(: a\r\nHost: a\r\n\r\n").error, ParseError::BadHeaderName);
}

// ---------------------------------------------------------------------------------------------
// Reuse and helpers

TEST(RequestParser, ErrorIsStickyUntilReset) {
    std::vector<Header> storage(8);
    RequestParser p(kResponseLimits, storage);
    RequestHead head;
    EXPECT_EQ(p.parse("GET\x01", head), ParseStatus::Error);
    EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", head), ParseStatus::Error);
    p.reset();
    EXPECT_EQ(p.error(), ParseError::None);
    EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", head), ParseStatus::Complete);
}

TEST(RequestParser, ParsesPipelinedRequestsAfterReset_RFC9112_9_3_2) {
    const std::string both = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
    std::vector<Header> storage(8);
    RequestParser p(kResponseLimits, storage);
    RequestHead head;
    ASSERT_EQ(p.parse(both, head), ParseStatus::Complete);
    EXPECT_EQ(head.target, "/1");
    const std::string_view rest = std::string_view(both).substr(head.head_size);
    p.reset();
    ASSERT_EQ(p.parse(rest.substr(0, 10), head), ParseStatus::NeedMore);
    p.reset();
    ASSERT_EQ(p.parse(rest, head), ParseStatus::Complete);
    EXPECT_EQ(head.target, "/2");
    EXPECT_EQ(head.host, "b");
}

TEST(RequestParser, LongHeadFedInManySmallReadsCompletes) {
    std::string msg = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 100; ++i) msg += "X-Filler-" + std::to_string(i) + ": " + std::string(200, 'f') + "\r\n";
    msg += "\r\n";
    RequestFeeder f(kResponseLimits, 128);
    Snap s;
    for (std::size_t n = 7; n <= msg.size() + 7; n += 7) {
        s = f.feed(std::string_view(msg).substr(0, std::min(n, msg.size())));
        if (s.status != ParseStatus::NeedMore) break;
    }
    EXPECT_EQ(s.status, ParseStatus::Complete);
    EXPECT_EQ(s.headers.size(), 101u);
}

TEST(ParseError, EveryErrorHasAStatusAndADescription) {
    for (int i = 1; i <= static_cast<int>(ParseError::BadStatusCode); ++i) {
        const auto e = static_cast<ParseError>(i);
        const int st = status_for(e);
        EXPECT_TRUE(st == 400 || st == 414 || st == 431 || st == 501 || st == 505) << i;
        EXPECT_FALSE(describe(e).empty());
        EXPECT_NE(describe(e), describe(ParseError::None));
    }
    EXPECT_EQ(status_for(ParseError::UnsupportedTransferCoding), 501);
    EXPECT_EQ(status_for(ParseError::UnsupportedVersion), 505);
    EXPECT_EQ(status_for(ParseError::LengthAndChunked), 400);
    EXPECT_EQ(describe(ParseError::LengthAndChunked), "Content-Length with Transfer-Encoding");
}

// The SSE2 scans must stop exactly where the class tables say, for every octet at every
// position of a block and in the scalar tail.
TEST(Syntax, VectorScansAgreeWithTheTables) {
    for (int c = 0; c < 256; ++c) {
        for (std::size_t pos = 0; pos < 40; ++pos) {
            std::string buf(40, 'a');
            buf[pos] = static_cast<char>(c);
            const char* b = buf.data();
            const char* e = b + buf.size();
            EXPECT_EQ(syntax::find_ctl(b, e) == b + pos, syntax::has(buf[pos], syntax::kCtl)) << c;
            EXPECT_EQ(syntax::find_non_tchar(b, e) == b + pos, !syntax::is_tchar(buf[pos])) << c;
            EXPECT_EQ(syntax::find_uri_special(b, e) == b + pos, !syntax::has(buf[pos], syntax::kUriPlain)) << c;
        }
    }
}

TEST(Method, IdempotentMethods_RFC9110_9_2_2) {
    for (Method m : {Method::Get, Method::Head, Method::Options, Method::Trace, Method::Put, Method::Delete}) {
        EXPECT_TRUE(is_idempotent(m));
    }
    for (Method m : {Method::Post, Method::Patch, Method::Connect, Method::Other}) EXPECT_FALSE(is_idempotent(m));
}

} // namespace
} // namespace haven::http
