// src/http: HTTP/1.1 message syntax — parsing, framing and serialisation, with no I/O.
//
// The parser is hand-written, zero-copy and strict (RFC 9112, RFC 9110). It never allocates:
// header fields are string_views into the caller's buffer, stored in a caller-provided array.
// It is incremental in the way that matters on a socket: call parse() again with the same bytes
// plus whatever arrived since. The first call parses whatever is there (a whole head, usually);
// later calls resume the search for the end of the head where they stopped, and parse the head
// again only once the blank line has arrived or an error is certain. A message split at any byte
// boundary parses exactly as the whole message does: same status, error and fields.
//
// What is rejected, and why (each rule cites its section in tests/unit/http/parser_test.cpp):
//   * ambiguous framing: Content-Length together with Transfer-Encoding, several differing or a
//     malformed Content-Length, a transfer coding other than one final "chunked"  (RFC 9112 §6);
//   * bare CR, bare LF as a line ending, obs-fold, whitespace between a field name and its
//     colon, control characters in names or values, invalid tokens               (RFC 9112 §2, §5);
//   * a request without exactly one valid Host (HTTP/1.1), a bad request-target    (RFC 9112 §3);
//   * oversized head (431), too many fields (431), oversized request line (414).
// A rejected message is never forwarded; the connection is closed after the error reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace haven::http {

enum class ParseStatus : std::uint8_t {
    Complete, // the head is complete and valid; see head_size
    NeedMore, // no error so far; call again when more bytes have arrived
    Error,    // the message is invalid; see error()
};

// Why a message was rejected. status_for() maps each to the response status a server sends.
enum class ParseError : std::uint8_t {
    None,
    BadRequestLine,        // 400 malformed request-line
    BadMethod,             // 400 method is not a token
    BadTarget,             // 400 request-target has invalid characters or form
    BadVersion,            // 400 HTTP-version is malformed
    UnsupportedVersion,    // 505 well-formed but not HTTP/1.0 or HTTP/1.1
    RequestLineTooLong,    // 414 request-line longer than max_request_line
    HeadTooLarge,          // 431 head longer than max_head_bytes
    TooManyHeaders,        // 431 more than header storage / max_headers fields
    BadHeaderName,         // 400 field name empty or not a token
    BadHeaderValue,        // 400 control character or invalid octet in a field value
    WhitespaceBeforeColon, // 400 RFC 9112 §5.1
    ObsFold,               // 400 RFC 9112 §5.2 (line folding)
    BareCR,                // 400 CR not followed by LF
    BareLF,                // 400 LF not preceded by CR (strict: CRLF only)
    LeadingWhitespace,     // 400 whitespace before the first header field (RFC 9112 §2.2)
    MissingHost,           // 400 HTTP/1.1 request without Host (RFC 9112 §3.2)
    MultipleHost,          // 400 more than one Host field line
    BadHost,               // 400 Host value is not a valid uri-host[:port]
    BadContentLength,      // 400 not 1*DIGIT, overflow, or differing values
    LengthAndChunked,      // 400 both Content-Length and Transfer-Encoding (RFC 9112 §6.1)
    BadTransferEncoding,   // 400 malformed, or chunked not last / repeated
    UnsupportedTransferCoding, // 501 a coding other than chunked (request)
    TransferEncodingInHttp10,  // 400 Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1)
    BadStatusLine,         // response: malformed status-line
    BadStatusCode,         // response: status not 3 digits 100..999
};

// The status code a server answers with for this error (400, 414, 431, 501, 505).
int status_for(ParseError e);
// A short human-readable reason, e.g. "Content-Length with Transfer-Encoding".
std::string_view describe(ParseError e);

// Fields the proxy acts on are recognised while parsing, so rewriting the head needs no string
// comparisons. Matching is case-insensitive.
enum class HeaderId : std::uint8_t {
    Other,
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    KeepAlive,
    ProxyConnection,
    TE,
    Upgrade,
    Expect,
    XForwardedFor,
    XForwardedProto,
    XRequestId,
    Via,
    Trailer,
    Cookie,
    Date,
    Server,
};

struct Header {
    std::string_view name;  // as received (case preserved)
    std::string_view value; // leading and trailing OWS removed
    std::uint32_t line_len = 0; // bytes of the whole field line from name.data(), including CRLF
    HeaderId id = HeaderId::Other;
    bool hop_by_hop = false; // to be removed when forwarding (RFC 9110 §7.6.1), incl. fields
                             // named in Connection
};

enum class BodyKind : std::uint8_t {
    None,          // no message body
    ContentLength, // exactly content_length bytes (may be 0)
    Chunked,       // chunked transfer coding; use ChunkedDecoder
    UntilClose,    // response only: body ends when the server closes the connection
};

enum class Method : std::uint8_t { Get, Head, Post, Put, Delete, Connect, Options, Trace, Patch, Other };

// RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE are idempotent.
bool is_idempotent(Method m);

// Facts common to requests and responses.
struct MessageHead {
    std::span<Header> headers;      // the fields, in order; views into the parsed buffer
    std::uint8_t version_minor = 1; // HTTP/1.<minor>; 0 or 1
    BodyKind body = BodyKind::None;
    std::uint64_t content_length = 0; // valid when body == ContentLength
    std::size_t head_size = 0;        // bytes of the head including the final CRLF
    bool connection_close = false;    // "Connection: close" present
    bool connection_keep_alive = false; // "Connection: keep-alive" present
    bool connection_upgrade = false;  // "Connection: upgrade" present
    bool has_trailer_field = false;   // "Trailer" field present

    // Whether the sender wants the connection kept open after this message (RFC 9112 §9.3).
    bool keep_alive() const {
        return version_minor >= 1 ? !connection_close : (connection_keep_alive && !connection_close);
    }
    // The first field with this id, or nullptr.
    const Header* find(HeaderId id) const;
};

struct RequestHead : MessageHead {
    std::string_view method_text;
    Method method = Method::Other;
    std::string_view target;         // request-target as received
    std::string_view path;           // origin-form path (absolute-form: its path; "*": "*")
    std::string_view query;          // after '?', without it; empty if none
    std::string_view host;           // Host field value (absolute-form: its authority)
    bool absolute_form = false;      // request-target was absolute-form (RFC 9112 §3.2.2)
    bool expect_continue = false;    // "Expect: 100-continue"
    bool expect_other = false;       // Expect with any other expectation (answer 417)
    std::size_t request_line_size = 0; // bytes of the request-line including CRLF
};

struct ResponseHead : MessageHead {
    int status = 0;
    std::string_view reason;
    std::size_t status_line_size = 0; // bytes of the status-line including CRLF
};

struct ParserLimits {
    std::size_t max_head_bytes = 32768;   // request-line/status-line + fields + final CRLF
    std::size_t max_request_line = 8192;  // request-line including CRLF
};

// Parses one request head. Reusable: call reset() before the next message.
class RequestParser {
public:
    RequestParser(ParserLimits limits, std::span<Header> header_storage)
        : limits_(limits), storage_(header_storage) {}

    // `data` starts at the first byte of the message and holds every byte received so far
    // (each call passes the same prefix, possibly longer). On Complete, `out` is filled and
    // out.head_size bytes belong to the head; what follows is body or the next message.
    // Empty lines before the request-line are skipped (RFC 9112 §2.2) and counted in head_size.
    ParseStatus parse(std::string_view data, RequestHead& out);
    ParseError error() const { return error_; }
    void reset() { scanned_ = 0; error_ = ParseError::None; start_line_ok_ = false; }

private:
    ParserLimits limits_;
    std::span<Header> storage_;
    std::size_t scanned_ = 0; // bytes already searched for the end of the head
    ParseError error_ = ParseError::None;
    bool start_line_ok_ = false; // the request-line has arrived and is valid
};

// Parses one response head. The body framing depends on the request (RFC 9112 §6.3): pass
// whether it was HEAD (and whether it was CONNECT, whose 2xx has no body).
class ResponseParser {
public:
    ResponseParser(ParserLimits limits, std::span<Header> header_storage)
        : limits_(limits), storage_(header_storage) {}

    ParseStatus parse(std::string_view data, ResponseHead& out, Method request_method);
    ParseError error() const { return error_; }
    void reset() { scanned_ = 0; error_ = ParseError::None; start_line_ok_ = false; }

private:
    ParserLimits limits_;
    std::span<Header> storage_;
    std::size_t scanned_ = 0;
    ParseError error_ = ParseError::None;
    bool start_line_ok_ = false; // the status-line has arrived and is valid
};

} // namespace haven::http
