// RequestParser: valid and invalid requests, each rule with its RFC section. Every table entry is
// also parsed split at every byte and byte by byte (parser_test_util.hpp), which must not change
// the answer. Responses, limits and incremental behaviour: parser_response_test.cpp.
#include "http/parser.hpp"

#include "unit/http/parser_test_util.hpp"

#include <gtest/gtest.h>

#include <string>

namespace haven::http {
namespace {

using namespace std::string_literals;
using test::RequestFeeder;
using test::Snap;

constexpr ParserLimits kRequestLimits{};
constexpr std::size_t kStorage = 32;

Snap parse_split_proof(const std::string& msg) {
    return test::expect_split_proof<RequestFeeder>(msg, kRequestLimits, kStorage);
}

// ---------------------------------------------------------------------------------------------
// Valid requests

struct Valid {
    const char* name; // names the rule and its RFC section
    std::string raw;
    Method method;
    const char* target;
    const char* path;
    const char* query;
    const char* host;
    int minor;
    BodyKind body;
    std::uint64_t content_length;
    const char* hop; // one mark per header: 'h' hop-by-hop, '.' forwarded
    bool keep_alive;
    bool absolute_form = false;
};

const std::string kBrowser =
    "GET /search/results?q=haven+proxy&page=2 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Cookie: session=38afes7a8; theme=dark; _ga=GA1.2.1234567890.1234567890\r\n"
    "Referer: https://www.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "\r\n";

const Valid kValidRequests[] = {
    {"Minimal_RFC9112_3", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", Method::Get, "/", "/", "", "a", 1, BodyKind::None, 0,
     ".", true},
    {"Wrk_RFC9112_3", "GET / HTTP/1.1\r\nHost: 127.0.0.1:18093\r\n\r\n", Method::Get, "/", "/", "", "127.0.0.1:18093",
     1, BodyKind::None, 0, ".", true},
    {"Browser_KeepAliveTokenIsHopByHop_RFC9110_7_6_1", kBrowser, Method::Get, "/search/results?q=haven+proxy&page=2",
     "/search/results", "q=haven+proxy&page=2", "www.example.com", 1, BodyKind::None, 0, ".......h.", true},
    {"Http10WithoutHost_RFC9112_3_2", "GET /x HTTP/1.0\r\n\r\n", Method::Get, "/x", "/x", "", "", 0, BodyKind::None, 0,
     "", false},
    {"Http10KeepAlive_RFC9112_9_3", "GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\n\r\n",
     Method::Get, "/x", "/x", "", "", 0, BodyKind::None, 0, "hh", true},
    {"ContentLength_RFC9112_6_3_r6", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", Method::Post,
     "/f", "/f", "", "a", 1, BodyKind::ContentLength, 5, "..", true},
    {"ContentLengthZero_RFC9110_8_6", "PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", Method::Put, "/f",
     "/f", "", "a", 1, BodyKind::ContentLength, 0, "..", true},
    {"ContentLengthIdenticalList_RFC9112_6_3_r5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7 ,7\r\n\r\n",
     Method::Post, "/", "/", "", "a", 1, BodyKind::ContentLength, 7, "..", true},
    {"ContentLengthIdenticalLines_RFC9112_6_3_r5",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\ncontent-length: 7\r\n\r\n", Method::Post, "/", "/", "", "a",
     1, BodyKind::ContentLength, 7, "...", true},
    {"ContentLengthMax_2pow62", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n",
     Method::Post, "/", "/", "", "a", 1, BodyKind::ContentLength, 4611686018427387904ULL, "..", true},
    {"ChunkedNotHopByHop_RFC9112_6_1", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     Method::Post, "/", "/", "", "a", 1, BodyKind::Chunked, 0, "..", true},
    {"ChunkedListAcrossLines_RFC9110_5_6_1",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\nTransfer-Encoding: , CHUNKED ,\r\n\r\n", Method::Post, "/",
     "/", "", "a", 1, BodyKind::Chunked, 0, "...", true},
    {"ChunkedTabOws_RFC9110_5_6_3", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked \r\n\r\n", Method::Post,
     "/", "/", "", "a", 1, BodyKind::Chunked, 0, "..", true},
    {"ConnectionClose_RFC9112_9_6", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", Method::Get, "/", "/", "",
     "a", 1, BodyKind::None, 0, ".h", false},
    {"ConnectionOptionsNameFields_RFC9110_7_6_1",
     "GET / HTTP/1.1\r\nX-Foo: 1\r\nHost: a\r\nConnection: close, x-foo,  Upgrade\r\nUpgrade: websocket\r\n"
     "TE: trailers\r\nProxy-Connection: x\r\nX-Bar: 2\r\n\r\n",
     Method::Get, "/", "/", "", "a", 1, BodyKind::None, 0, "h.hhhh.", false},
    {"ConnectionCannotDropFraming_RFC9110_7_6_1",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: Content-Length, Host\r\n\r\nx", Method::Post, "/",
     "/", "", "a", 1, BodyKind::ContentLength, 1, "..h", true},
    {"AbsoluteForm_RFC9112_3_2_2", "GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
     Method::Get, "http://example.com:8080/p/q?x=1", "/p/q", "x=1", "example.com:8080", 1, BodyKind::None, 0, ".", true,
     true},
    {"AbsoluteFormEmptyPath_RFC9112_3_2_2", "OPTIONS HTTPS://Example.com?a HTTP/1.1\r\nHost: example.com\r\n\r\n",
     Method::Options, "HTTPS://Example.com?a", "/", "a", "Example.com", 1, BodyKind::None, 0, ".", true, true},
    {"AbsoluteFormIgnoresConflictingHost_RFC9112_3_2_2", "GET http://good.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n",
     Method::Get, "http://good.example/", "/", "", "good.example", 1, BodyKind::None, 0, ".", true, true},
    {"AbsoluteFormIPv6_RFC3986_3_2_2", "GET http://[::1]:8443/x HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", Method::Get,
     "http://[::1]:8443/x", "/x", "", "[::1]:8443", 1, BodyKind::None, 0, ".", true, true},
    {"AuthorityFormConnect_RFC9112_3_2_3", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
     Method::Connect, "example.com:443", "", "", "example.com:443", 1, BodyKind::None, 0, ".", true},
    {"AsteriskFormOptions_RFC9112_3_2_4", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", Method::Options, "*", "*", "", "a", 1,
     BodyKind::None, 0, ".", true},
    {"EmptyLinesBeforeRequestLine_RFC9112_2_2", "\r\n\r\n\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\n", Method::Head, "/",
     "/", "", "a", 1, BodyKind::None, 0, ".", true},
    {"HigherMinorIsHttp11_RFC9110_2_5", "GET / HTTP/1.7\r\nHost: a\r\n\r\n", Method::Get, "/", "/", "", "a", 1,
     BodyKind::None, 0, ".", true},
    {"PercentEncodingAndSubDelims_RFC3986_2_1",
     "GET /a%20b/%7e;p=1,2/@:!$&'()*+=~_.-?q=%2F&r=(x)!$'*+,;=:@/? HTTP/1.1\r\nHost: a\r\n\r\n", Method::Get,
     "/a%20b/%7e;p=1,2/@:!$&'()*+=~_.-?q=%2F&r=(x)!$'*+,;=:@/?", "/a%20b/%7e;p=1,2/@:!$&'()*+=~_.-",
     "q=%2F&r=(x)!$'*+,;=:@/?", "a", 1, BodyKind::None, 0, ".", true},
    {"ValueOwsObsTextEmpty_RFC9110_5_5",
     "GET / HTTP/1.1\r\nHost:a\r\nX-Obs: \t caf\xc3\xa9 \x80\xff\t \r\nX-Empty:\r\nX-Sp:   \r\n\r\n", Method::Get, "/",
     "/", "", "a", 1, BodyKind::None, 0, "....", true},
    {"ExtensionMethod_RFC9110_9_1", "PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n", Method::Other, "/d", "/d", "", "a", 1,
     BodyKind::None, 0, ".", true},
    {"MethodIsCaseSensitive_RFC9110_9_1", "get / HTTP/1.1\r\nHost: a\r\n\r\n", Method::Other, "/", "/", "", "a", 1,
     BodyKind::None, 0, ".", true},
    {"HostIPv6AndPort_RFC9110_7_2", "GET / HTTP/1.1\r\nHost: [2001:db8::7]:80\r\n\r\n", Method::Get, "/", "/", "",
     "[2001:db8::7]:80", 1, BodyKind::None, 0, ".", true},
    {"HostEmptyPortAndPct_RFC3986_3_2_3", "GET / HTTP/1.1\r\nHost: a%41.b_c-d~e:\r\n\r\n", Method::Get, "/", "/", "",
     "a%41.b_c-d~e:", 1, BodyKind::None, 0, ".", true},
    {"PipelinedNextRequestAfterHead_RFC9112_9_3_2",
     "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", Method::Get, "/1", "/1", "", "a", 1,
     BodyKind::None, 0, ".", true},
};

class ValidRequest : public ::testing::TestWithParam<Valid> {};

TEST_P(ValidRequest, ParsesTheSameWholeSplitAndByteByByte) {
    const Valid& v = GetParam();
    const Snap s = parse_split_proof(v.raw);
    ASSERT_EQ(s.status, ParseStatus::Complete) << describe(s.error);
    EXPECT_EQ(s.method, v.method);
    EXPECT_EQ(s.target, v.target);
    EXPECT_EQ(s.path, v.path);
    EXPECT_EQ(s.query, v.query);
    EXPECT_EQ(s.host, v.host);
    EXPECT_EQ(s.version_minor, v.minor);
    EXPECT_EQ(s.body, v.body);
    EXPECT_EQ(s.content_length, v.content_length);
    EXPECT_EQ(s.keep_alive, v.keep_alive);
    EXPECT_EQ(s.absolute_form, v.absolute_form);
    std::string hop;
    for (const auto& h : s.headers) hop += h.hop_by_hop ? 'h' : '.';
    EXPECT_EQ(hop, v.hop);
    // The request-line is the first line after any skipped empty lines; the head ends at the
    // first blank line and body bytes or a pipelined request follow untouched.
    const std::size_t line_at = v.raw.find_first_not_of("\r\n");
    EXPECT_EQ(s.method_text, v.raw.substr(line_at, v.raw.find(' ') - line_at));
    EXPECT_EQ(s.line_size, v.raw.find("\r\n", line_at) + 2 - line_at);
    EXPECT_EQ(s.head_size, v.raw.find("\r\n\r\n", line_at) + 4);
}

INSTANTIATE_TEST_SUITE_P(Table, ValidRequest, ::testing::ValuesIn(kValidRequests),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RequestParser, FieldsKeepOrderCaseAndTrimmedValues_RFC9110_5) {
    const Snap s = parse_split_proof("GET / HTTP/1.1\r\nhOsT:   a  \r\nX-Obs: \t x \t y\t\r\nX-Empty:\r\n\r\n");
    ASSERT_EQ(s.headers.size(), 3u);
    EXPECT_EQ(s.headers[0].name, "hOsT");
    EXPECT_EQ(s.headers[0].value, "a");
    EXPECT_EQ(s.headers[0].id, HeaderId::Host);
    EXPECT_EQ(s.headers[0].offset, 16u);
    EXPECT_EQ(s.headers[0].line_len, std::string("hOsT:   a  \r\n").size());
    EXPECT_EQ(s.headers[1].value, "x \t y");
    EXPECT_EQ(s.headers[2].value, "");
}

TEST(RequestParser, ExpectAndTrailerAreRecognised_RFC9110_10_1_1) {
    Snap s = parse_split_proof("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
    EXPECT_TRUE(s.expect_continue);
    EXPECT_FALSE(s.expect_other);
    s = parse_split_proof("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x-other=1\r\nTrailer: X\r\n\r\n");
    EXPECT_TRUE(s.expect_continue);
    EXPECT_TRUE(s.expect_other);
    EXPECT_TRUE(s.trailer);
    s = parse_split_proof("PUT / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n");
    EXPECT_FALSE(s.expect_continue || s.expect_other);
    s = parse_split_proof("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_FALSE(s.expect_continue || s.expect_other);
}

TEST(RequestParser, ConnectionTokensSetFlags_RFC9112_9_3) {
    const Snap s = parse_split_proof("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nConnection: keep-alive , CLOSE\r\n\r\n");
    EXPECT_TRUE(s.upgrade);
    EXPECT_TRUE(s.keep_alive_token);
    EXPECT_TRUE(s.close);
    EXPECT_FALSE(s.keep_alive); // close wins
}

TEST(RequestParser, RecognisesEveryKnownFieldInAnyCase) {
    const std::pair<const char*, HeaderId> names[] = {
        {"Host", HeaderId::Host},
        {"CONTENT-LENGTH", HeaderId::ContentLength},
        {"transfer-encoding", HeaderId::TransferEncoding},
        {"Connection", HeaderId::Connection},
        {"keep-Alive", HeaderId::KeepAlive},
        {"Proxy-Connection", HeaderId::ProxyConnection},
        {"te", HeaderId::TE},
        {"Upgrade", HeaderId::Upgrade},
        {"EXPECT", HeaderId::Expect},
        {"X-Forwarded-For", HeaderId::XForwardedFor},
        {"x-forwarded-proto", HeaderId::XForwardedProto},
        {"X-Request-ID", HeaderId::XRequestId},
        {"Via", HeaderId::Via},
        {"Trailer", HeaderId::Trailer},
        {"cookie", HeaderId::Cookie},
        {"Date", HeaderId::Date},
        {"Server", HeaderId::Server},
        {"Hosts", HeaderId::Other},
        {"Content-Lengthy", HeaderId::Other},
        {"Tf", HeaderId::Other},
        {"X-Forwarded-Fo_", HeaderId::Other},
    };
    for (const auto& [name, id] : names) {
        std::string msg = "GET / HTTP/1.1\r\nHost: a\r\n";
        if (id != HeaderId::Host) msg += std::string(name) + (id == HeaderId::TransferEncoding ? ": chunked\r\n" : ": 1\r\n");
        msg += "\r\n";
        std::vector<Header> storage(8);
        RequestParser p(kRequestLimits, storage);
        RequestHead head;
        const ParseStatus st = p.parse(msg, head);
        ASSERT_EQ(st, ParseStatus::Complete) << name << ": " << describe(p.error());
        EXPECT_EQ(head.headers.back().id, id) << name;
        EXPECT_EQ(head.find(id), &head.headers.back()) << name;
    }
}

// ---------------------------------------------------------------------------------------------
// Invalid requests

struct Invalid {
    const char* name;
    std::string raw;
    ParseError error;
};

const Invalid kInvalidRequests[] = {
    // Request-line (RFC 9112 §3)
    {"DoubleSpace_RFC9112_3", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine},
    {"LeadingSpace_RFC9112_3", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine},
    {"MissingVersion_RFC9112_3", "GET /\r\nHost: a\r\n\r\n", ParseError::BadRequestLine},
    {"MethodOnly_RFC9112_3", "GET\r\n\r\n", ParseError::BadRequestLine},
    {"FiveEmptyLines_RFC9112_2_2", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine},
    {"MethodNotToken_RFC9110_9_1", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadMethod},
    {"MethodWithQuote_RFC9110_9_1", "\"GET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadMethod},
    {"TargetLt_RFC3986_2", "GET /<script> HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetBrace_RFC3986_2", "GET /{x} HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetPipeCaretBacktickBackslash_RFC3986_2", "GET /a|b^c`d\\ HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetQuote_RFC3986_2", "GET /\"x\" HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetFragment_RFC9112_3_2", "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetBadPercent_RFC3986_2_1", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetShortPercent_RFC3986_2_1", "GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetNonAscii_RFC3986_2", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetNul_RFC9112_3_2", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"s, ParseError::BadTarget},
    {"TargetDel_RFC9112_3_2", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetTab_RFC9112_3_2", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetBracketInPath_RFC3986_3_3", "GET /[x] HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"TargetRelative_RFC9112_3_2", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"AsteriskNotOptions_RFC9112_3_2_4", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"ConnectOriginForm_RFC9112_3_2_3", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"ConnectWithoutPort_RFC9112_3_2_3", "CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"AbsoluteOtherScheme_RFC9112_3_2_2", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"AbsoluteUserinfo_RFC9110_4_2_4", "GET http://u:p@a/ HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"AbsoluteEmptyHost_RFC9110_4_2_1", "GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    {"SpaceInTargetLeavesNoVersion_RFC9112_3", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadVersion},
    {"LowercaseVersion_RFC9112_2_3", "GET / http/1.1\r\nHost: a\r\n\r\n", ParseError::BadVersion},
    {"TwoDigitMinor_RFC9112_2_3", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", ParseError::BadVersion},
    {"VersionTrailingSpace_RFC9112_3", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", ParseError::BadVersion},
    {"VersionLetter_RFC9112_2_3", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", ParseError::BadVersion},
    {"Http2_RFC9110_6_2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", ParseError::UnsupportedVersion},
    {"Http09_RFC9110_6_2", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", ParseError::UnsupportedVersion},
    // Line endings and field syntax (RFC 9112 §2.2, §5)
    {"BareLFEverywhere_RFC9112_2_2", "GET / HTTP/1.1\nHost: a\n\n", ParseError::BareLF},
    {"BareLFInField_RFC9112_2_2", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", ParseError::BareLF},
    {"BareLFBlankLine_RFC9112_2_2", "GET / HTTP/1.1\r\nHost: a\r\n\n", ParseError::BareLF},
    {"BareCRInValue_RFC9112_2_2", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", ParseError::BareCR},
    {"BareCRInRequestLine_RFC9112_2_2", "GET / HTTP/1.1\rHost: a\r\n\r\n", ParseError::BareCR},
    {"BareCRBlankLine_RFC9112_2_2", "GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n", ParseError::BareCR},
    {"NulInValue_RFC9110_5_5", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, ParseError::BadHeaderValue},
    {"CtlInValue_RFC9110_5_5", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", ParseError::BadHeaderValue},
    {"DelInValue_RFC9110_5_5", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", ParseError::BadHeaderValue},
    {"VerticalTabAfterChunked_RFC9110_5_5", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x0b\r\n\r\n",
     ParseError::BadHeaderValue},
    {"ConnectionNotTokens_RFC9110_7_6_1", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close;x\r\n\r\n",
     ParseError::BadHeaderValue},
    {"EmptyName_RFC9110_5_1", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", ParseError::BadHeaderName},
    {"NameNotToken_RFC9110_5_1", "GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", ParseError::BadHeaderName},
    {"NameNonAscii_RFC9110_5_1", "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: z\r\n\r\n", ParseError::BadHeaderName},
    {"NoColon_RFC9112_5", "GET / HTTP/1.1\r\nHost: a\r\nXyz\r\n\r\n", ParseError::BadHeaderName},
    {"SpaceInsideName_RFC9112_5", "GET / HTTP/1.1\r\nHost: a\r\nX y: z\r\n\r\n", ParseError::BadHeaderName},
    {"SpaceBeforeColonTE_RFC9112_5_1", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
     ParseError::WhitespaceBeforeColon},
    {"TabBeforeColon_RFC9112_5_1", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", ParseError::WhitespaceBeforeColon},
    {"ObsFoldTE_RFC9112_5_2", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", ParseError::ObsFold},
    {"ObsFoldTab_RFC9112_5_2", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n", ParseError::ObsFold},
    {"LeadingWhitespace_RFC9112_2_2", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", ParseError::LeadingWhitespace},
    // Host (RFC 9112 §3.2, RFC 9110 §7.2)
    {"MissingHost_RFC9112_3_2", "GET / HTTP/1.1\r\n\r\n", ParseError::MissingHost},
    {"MissingHostAbsoluteForm_RFC9112_3_2", "GET http://a/ HTTP/1.1\r\n\r\n", ParseError::MissingHost},
    {"TwoHosts_RFC9112_3_2", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", ParseError::MultipleHost},
    {"TwoHostsAbsoluteForm_RFC9112_3_2", "GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ParseError::MultipleHost},
    {"EmptyHost_RFC9112_3_2", "GET / HTTP/1.1\r\nHost:\r\n\r\n", ParseError::BadHost},
    {"HostWithSpace_RFC9110_7_2", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ParseError::BadHost},
    {"HostUserinfo_RFC9110_7_2", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", ParseError::BadHost},
    {"HostPortNotDigits_RFC3986_3_2_3", "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", ParseError::BadHost},
    {"HostPortTooBig_RFC3986_3_2_3", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", ParseError::BadHost},
    {"HostOpenBracket_RFC3986_3_2_2", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", ParseError::BadHost},
    {"HostBadWithAbsoluteForm_RFC9112_3_2", "GET http://a/ HTTP/1.1\r\nHost: a/b\r\n\r\n", ParseError::BadHost},
    // Framing (RFC 9112 §6)
    {"ContentLengthAndChunked_RFC9112_6_1",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", ParseError::LengthAndChunked},
    {"ChunkedAndContentLength_RFC9112_6_1",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", ParseError::LengthAndChunked},
    {"ContentLengthPlus_RFC9110_8_6", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", ParseError::BadContentLength},
    {"ContentLengthMinus_RFC9110_8_6", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", ParseError::BadContentLength},
    {"ContentLengthHex_RFC9110_8_6", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", ParseError::BadContentLength},
    {"ContentLengthInnerSpace_RFC9110_8_6", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
     ParseError::BadContentLength},
    {"ContentLengthEmpty_RFC9110_8_6", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", ParseError::BadContentLength},
    {"ContentLengthDifferentList_RFC9112_6_3_r5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
     ParseError::BadContentLength},
    {"ContentLengthDifferentLines_RFC9112_6_3_r5",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", ParseError::BadContentLength},
    {"ContentLengthTrailingComma_RFC9112_6_3_r5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n",
     ParseError::BadContentLength},
    {"ContentLengthOverflow_RFC9112_6_3_r5",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387905\r\n\r\n", ParseError::BadContentLength},
    {"ContentLengthHuge_RFC9112_6_3_r5",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n", ParseError::BadContentLength},
    {"ChunkedThenIdentity_RFC9112_6_3_r4", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
     ParseError::BadTransferEncoding},
    {"ChunkedTwice_RFC9112_7", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::BadTransferEncoding},
    {"ChunkedWithParameter_RFC9112_7", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
     ParseError::BadTransferEncoding},
    {"TransferEncodingEmpty_RFC9112_6_1", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , \r\n\r\n",
     ParseError::BadTransferEncoding},
    {"TransferEncodingNotToken_RFC9112_6_1", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chu nked\r\n\r\n",
     ParseError::BadTransferEncoding},
    {"GzipThenChunked_RFC9112_6_1", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     ParseError::UnsupportedTransferCoding},
    {"XChunked_RFC9112_6_1", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
     ParseError::UnsupportedTransferCoding},
    {"GzipOnly_RFC9112_6_1", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
     ParseError::UnsupportedTransferCoding},
    {"Http10WithTransferEncoding_RFC9112_6_1", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::TransferEncodingInHttp10},
};

class InvalidRequest : public ::testing::TestWithParam<Invalid> {};

TEST_P(InvalidRequest, IsRejectedWholeSplitAndByteByByte) {
    const Invalid& v = GetParam();
    const Snap s = parse_split_proof(v.raw);
    EXPECT_EQ(s.status, ParseStatus::Error);
    EXPECT_EQ(s.error, v.error) << describe(s.error);
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidRequest, ::testing::ValuesIn(kInvalidRequests),
                         [](const auto& info) { return std::string(info.param.name); });

} // namespace
} // namespace haven::http
