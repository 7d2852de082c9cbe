// The HTTP/1.1 head parser: start-lines and field lines (RFC 9112 §2-§5), limits, and the
// incremental driver. What the fields mean is in parser_fields.cpp.
//
// How it stays fast and split-proof:
//   * The common case is a whole head in one read. The first call parses straight through it
//     once: table-driven scans, SSE2 for field values, no separate search for the blank line.
//   * Every check reads bytes left to right and reports the first fault; on running out of bytes
//     it says "incomplete" instead of guessing, so the answer for a prefix never contradicts the
//     answer for the whole message.
//   * When a head is incomplete, later calls only scan the new bytes (from scanned_) for the
//     blank line or for something that is already certainly an error (a control character,
//     a bare CR or LF, a limit reached). Only then is the head parsed again, from the start.
//     Otherwise only the start-line is checked, until it is complete.
// The result is therefore a function of the bytes received, whatever the split: a message
// parsed whole, in two pieces or byte by byte gives the same status, error and fields.
#include "http/parser.hpp"

#include "http/parser_internal.hpp"
#include "http/syntax.hpp"

#include <algorithm>
#include <cstring>

namespace haven::http {
namespace {

using namespace syntax;
using E = ParseError;

// RFC 9112 §2.2 asks servers to skip "at least one" empty line before a request-line; a few
// cover real clients, more is noise.
constexpr int kMaxEmptyLines = 4;

enum class Step : std::uint8_t { Done, Incomplete, Failed };

struct Outcome {
    Step step;
    E error;
    const char* next; // Done: the first byte after what was parsed
};

Outcome done(const char* next) { return {Step::Done, E::None, next}; }
Outcome incomplete() { return {Step::Incomplete, E::None, nullptr}; }
Outcome failed(E e) { return {Step::Failed, e, nullptr}; }

// p is at a CR or LF where something else was expected: a CRLF there is the caller's `at_crlf`
// error, anything else a bad line ending, or undecided while the CR is the last byte.
Outcome at_line_end(const char* p, const char* e, E at_crlf) {
    if (*p == '\n') return failed(E::BareLF);
    if (p + 1 == e) return incomplete();
    return failed(p[1] == '\n' ? at_crlf : E::BareCR);
}

Outcome unexpected(const char* p, const char* e, E at_crlf, E otherwise) {
    if (*p == '\r' || *p == '\n') return at_line_end(p, e, at_crlf);
    return failed(otherwise);
}

// The CRLF that ends a start-line, at p.
Outcome line_end(const char* p, const char* e, E otherwise) {
    if (p == e) return incomplete();
    if (*p != '\r') return unexpected(p, e, otherwise, otherwise);
    if (p + 1 == e) return incomplete();
    return p[1] == '\n' ? done(p + 2) : failed(E::BareCR);
}

// Methods are case-sensitive (RFC 9110 §9.1).
Method classify_method(std::string_view m) {
    switch (m.size()) {
    case 3: return m == "GET" ? Method::Get : m == "PUT" ? Method::Put : Method::Other;
    case 4: return m == "HEAD" ? Method::Head : m == "POST" ? Method::Post : Method::Other;
    case 5: return m == "PATCH" ? Method::Patch : m == "TRACE" ? Method::Trace : Method::Other;
    case 6: return m == "DELETE" ? Method::Delete : Method::Other;
    case 7: return m == "CONNECT" ? Method::Connect : m == "OPTIONS" ? Method::Options : Method::Other;
    default: return Method::Other;
    }
}

// HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
Outcome parse_version(const char* p, const char* e, int& major, int& minor) {
    static constexpr char kShape[] = "HTTP/0.0";
    if (e - p >= 8) { // one comparison for the common "HTTP/1.1"
        std::uint64_t word = 0;
        std::memcpy(&word, p, 8);
        std::uint64_t shape = 0;
        std::memcpy(&shape, kShape, 8);
        const auto mask = ~((std::uint64_t{0xFF} << 40) | (std::uint64_t{0xFF} << 56)); // not the digits
        if ((word & mask) == (shape & mask) && is_digit(p[5]) && is_digit(p[7])) {
            major = p[5] - '0';
            minor = p[7] - '0';
            return done(p + 8);
        }
    }
    for (int i = 0; i < 8; ++i) { // find the first wrong byte, or run out
        if (p + i == e) return incomplete();
        const char c = p[i];
        if (i == 5 || i == 7 ? !is_digit(c) : c != kShape[i]) return unexpected(p + i, e, E::BadVersion, E::BadVersion);
    }
    major = p[5] - '0';
    minor = p[7] - '0';
    return done(p + 8);
}

// RFC 9110 §2.5: a 1.x message with x > 1 is processed as the highest 1.x we implement, 1.1.
// Other majors (0.9, 2.0, ...) are well-formed but not spoken on this connection: 505.
std::uint8_t effective_minor(int minor) { return minor == 0 ? 0 : 1; }

// request-target octets up to the SP that ends it (RFC 9112 §3.2, RFC 3986 §2-3): no CTL, SP,
// DEL, non-ASCII, '"' '#' '<' '>' '\' '^' '`' '{' '|' '}'; '%' must start a pct-encoding.
Outcome scan_target(const char* p, const char* e, detail::TargetMarks& m) {
    for (;;) {
        p = find_uri_special(p, e);
        if (p == e) return incomplete();
        switch (*p) {
        case ' ': return done(p);
        case '?':
            if (m.query == nullptr) m.query = p;
            ++p;
            break;
        case '[':
        case ']':
            m.bracket = true;
            ++p;
            break;
        case '%':
            if (++p == e) return incomplete();
            if (!is_hex(*p)) return failed(E::BadTarget);
            if (++p == e) return incomplete();
            if (!is_hex(*p)) return failed(E::BadTarget);
            ++p;
            break;
        default: return unexpected(p, e, E::BadRequestLine, E::BadTarget);
        }
    }
}

// request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3), in [p, e).
template <bool kBounded>
Outcome request_line(const char* p, const char* e, RequestHead& r) {
    const char* const line = p;
    while ((!kBounded || p < e) && is_tchar(*p)) ++p;
    if (p == e) return incomplete();
    if (*p != ' ' || p == line) return unexpected(p, e, E::BadRequestLine, *p == ' ' ? E::BadRequestLine : E::BadMethod);
    r.method_text = std::string_view(line, static_cast<std::size_t>(p - line));
    r.method = classify_method(r.method_text);
    const char* const target = ++p;
    detail::TargetMarks marks;
    Outcome o = scan_target(p, e, marks);
    if (o.step != Step::Done) return o;
    if (o.next == target) return failed(E::BadRequestLine); // exactly one SP between parts
    r.target = std::string_view(target, static_cast<std::size_t>(o.next - target));
    if (const E err = detail::classify_target(r, marks); err != E::None) return failed(err);
    int major = 0;
    int minor = 0;
    o = parse_version(o.next + 1, e, major, minor);
    if (o.step != Step::Done) return o;
    o = line_end(o.next, e, E::BadVersion);
    if (o.step != Step::Done) return o;
    if (major != 1) return failed(E::UnsupportedVersion);
    r.version_minor = effective_minor(minor);
    r.request_line_size = static_cast<std::size_t>(o.next - line);
    return o;
}

Outcome parse_request_line(const char* p, const char* e, RequestHead& r) {
    // Once the line's CR (or any control character) is in range, every scan stops at it, and
    // bounds checks are needed only while the line is still arriving.
    return find_ctl(p, e) != e ? request_line<false>(p, e, r) : request_line<true>(p, e, r);
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF (RFC 9112 §4). A missing SP
// before an empty reason is accepted, as §4 asks of recipients.
Outcome parse_status_line(const char* p, const char* e, ResponseHead& r) {
    const char* const line = p;
    int major = 0;
    int minor = 0;
    Outcome o = parse_version(p, e, major, minor);
    if (o.step != Step::Done) return o;
    p = o.next;
    if (p == e) return incomplete();
    if (*p != ' ') return unexpected(p, e, E::BadStatusLine, E::BadStatusLine);
    int status = 0;
    for (int i = 0; i < 3; ++i) {
        if (++p == e) return incomplete();
        if (!is_digit(*p)) return unexpected(p, e, E::BadStatusCode, E::BadStatusCode);
        status = status * 10 + (*p - '0');
    }
    if (++p == e) return incomplete();
    const char* reason = p;
    if (*p == ' ') {
        reason = ++p;
        for (;;) { // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
            p = find_ctl(p, e);
            if (p == e || *p != '\t') break;
            ++p;
        }
    }
    o = line_end(p, e, p != e && p == reason && is_digit(*p) ? E::BadStatusCode : E::BadStatusLine);
    if (o.step != Step::Done) return o;
    if (major != 1) return failed(E::UnsupportedVersion);
    if (status < 100) return failed(E::BadStatusCode);
    r.status = status;
    r.reason = std::string_view(reason, static_cast<std::size_t>(p - reason));
    r.version_minor = effective_minor(minor);
    r.status_line_size = static_cast<std::size_t>(o.next - line);
    return o;
}

// A field line that does not start with a tchar: the blank line ending the head, or an error.
Outcome field_line_start(const char* p, const char* e, std::size_t count) {
    switch (*p) {
    case '\r':
        if (p + 1 == e) return incomplete();
        return p[1] == '\n' ? done(p + 2) : failed(E::BareCR);
    case '\n': return failed(E::BareLF);
    case ' ':
    case '\t': return failed(count == 0 ? E::LeadingWhitespace : E::ObsFold); // RFC 9112 §2.2, §5.2
    default: return failed(E::BadHeaderName);
    }
}

// A non-empty field name followed by something other than ':'.
Outcome after_name(const char* p, const char* e) {
    if (is_ows(*p)) {
        p = skip_ows(p, e);
        if (p == e) return incomplete();
        if (*p == ':') return failed(E::WhitespaceBeforeColon); // RFC 9112 §5.1
    }
    return unexpected(p, e, E::BadHeaderName, E::BadHeaderName);
}

// A field line with no CR or LF yet: only its name can already be wrong.
Outcome partial_field_line(const char* p, const char* e) {
    while (p < e && is_tchar(*p)) ++p;
    if (p == e || *p == ':') return incomplete();
    return after_name(p, e);
}

// field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 §5), up to and including the
// blank line. Fields go straight into the caller's storage.
Outcome parse_fields(const char* p, const char* e, std::span<Header> storage, std::size_t& count) {
    Header* const out = storage.data();
    const std::size_t cap = storage.size();
    std::size_t n = 0;
    for (;;) {
        count = n;
        if (p == e) return incomplete();
        const char* const name = p;
        if (!is_tchar(*p)) [[unlikely]] return field_line_start(p, e, n);
        if (n == cap) [[unlikely]] return failed(E::TooManyHeaders);
        // The first control character other than HTAB ends the line -- normally its CR. Field
        // values may hold anything else (VCHAR, obs-text, SP, HTAB: RFC 9110 §5.5), and that
        // byte stops the name and OWS scans below without bounds checks.
        const char* stop = find_ctl(p + 1, e);
        while (stop != e && *stop == '\t') stop = find_ctl(stop + 1, e);
        if (stop == e) [[unlikely]] return partial_field_line(p, e);
        p = find_non_tchar(p + 1, stop);
        if (*p != ':') [[unlikely]] return after_name(p, e);
        const auto name_len = static_cast<std::size_t>(p - name);
        do ++p;
        while (is_ows(*p));
        const char* const value = p;
        p = stop;
        if (*p != '\r' || p + 1 == e || p[1] != '\n') [[unlikely]] {
            return unexpected(p, e, E::BadHeaderValue, E::BadHeaderValue);
        }
        const char* value_end = p;
        while (value_end > value && is_ows(value_end[-1])) --value_end;
        p += 2;
        Header& h = out[n++];
        h.name = std::string_view(name, name_len);
        h.value = std::string_view(value, static_cast<std::size_t>(value_end - value));
        h.line_len = static_cast<std::uint32_t>(p - name);
        h.id = detail::classify_header(name, name_len);
        h.hop_by_hop = detail::hop_by_hop(h.id);
    }
}

// Skips the empty lines a server ignores before a request-line (RFC 9112 §2.2).
Outcome skip_empty_lines(const char* p, const char* e) {
    for (int i = 0;; ++i) {
        if (p == e) return incomplete();
        if (*p == '\n') return failed(E::BareLF);
        if (*p != '\r') return done(p);
        if (i == kMaxEmptyLines) return failed(E::BadRequestLine);
        if (p + 1 == e) return incomplete();
        if (p[1] != '\n') return failed(E::BareCR);
        p += 2;
    }
}

// What a parse of the bytes received so far concluded.
struct Verdict {
    Step step;
    E error;
    bool line_done; // Incomplete: the start-line was complete and valid
};

// Bytes run out: an error if the head could only complete beyond its limit.
Verdict unfinished(const Outcome& o, bool at_head_limit, bool line_done) {
    if (o.step == Step::Failed) return {Step::Failed, o.error, false};
    if (at_head_limit) return {Step::Failed, E::HeadTooLarge, false};
    return {Step::Incomplete, E::None, line_done};
}

// Field by field rather than `r = RequestHead{}`: GCC zeroes a struct this size with `rep stos`,
// whose start-up cost is a large share of parsing a small request. Fields always assigned on
// success (method, target, sizes, headers, version) are left alone. The size check makes adding
// a field to the head a compile error here until it is reset too.
void reset_message(MessageHead& m) {
    m.body = BodyKind::None;
    m.content_length = 0;
    m.connection_close = false;
    m.connection_keep_alive = false;
    m.connection_upgrade = false;
    m.has_trailer_field = false;
}

void reset_head(RequestHead& r) {
    static_assert(sizeof(void*) != 8 || sizeof(RequestHead) == 152, "reset the new RequestHead field here");
    reset_message(r);
    r.path = {};
    r.query = {};
    r.host = {};
    r.absolute_form = false;
    r.expect_continue = false;
    r.expect_other = false;
}

void reset_head(ResponseHead& r) {
    static_assert(sizeof(void*) != 8 || sizeof(ResponseHead) == 72, "reset the new ResponseHead field here");
    reset_message(r);
}

// Parses the request head from the start of `data`. The request-line is confined to
// max_request_line bytes and the head to max_head_bytes: nothing past a limit is ever looked at.
Verdict parse_request_head(std::string_view data, const ParserLimits& lim, std::span<Header> storage, RequestHead& r,
                           bool line_only) {
    reset_head(r);
    const char* const b = data.data();
    const bool at_head_limit = data.size() >= lim.max_head_bytes;
    const char* const e = b + std::min(data.size(), lim.max_head_bytes);
    Outcome o = skip_empty_lines(b, e);
    if (o.step != Step::Done) return unfinished(o, at_head_limit, false);
    const char* const line = o.next;
    const auto room = static_cast<std::size_t>(e - line);
    o = parse_request_line(line, line + std::min(room, lim.max_request_line), r);
    if (o.step == Step::Incomplete && room >= lim.max_request_line) return {Step::Failed, E::RequestLineTooLong, false};
    if (o.step != Step::Done) return unfinished(o, at_head_limit, false);
    if (line_only) return {Step::Incomplete, E::None, true};
    std::size_t n = 0;
    o = parse_fields(o.next, e, storage, n);
    if (o.step != Step::Done) return unfinished(o, at_head_limit, true);
    r.headers = storage.first(n);
    r.head_size = static_cast<std::size_t>(o.next - b);
    const E err = detail::apply_request_fields(r);
    return {err == E::None ? Step::Done : Step::Failed, err, true};
}

Verdict parse_response_head(std::string_view data, const ParserLimits& lim, std::span<Header> storage,
                            ResponseHead& r, Method request_method, bool line_only) {
    reset_head(r);
    const char* const b = data.data();
    const bool at_head_limit = data.size() >= lim.max_head_bytes;
    const char* const e = b + std::min(data.size(), lim.max_head_bytes);
    Outcome o = parse_status_line(b, e, r);
    if (o.step != Step::Done) return unfinished(o, at_head_limit, false);
    if (line_only) return {Step::Incomplete, E::None, true};
    std::size_t n = 0;
    o = parse_fields(o.next, e, storage, n);
    if (o.step != Step::Done) return unfinished(o, at_head_limit, true);
    r.headers = storage.first(n);
    r.head_size = static_cast<std::size_t>(o.next - b);
    const E err = detail::apply_response_fields(r, request_method);
    return {err == E::None ? Step::Done : Step::Failed, err, true};
}

enum class Scan : std::uint8_t { Nothing, Decisive };

// Looks at [from, lim) for the blank line ending the head or a byte that is already certainly an
// error: a control character other than HTAB, a CR not followed by LF, an LF not preceded by CR.
// `stop` is where the next call resumes (a CR at the very end is not decided yet).
Scan scan_head(const char* b, std::size_t start, std::size_t from, std::size_t lim, std::size_t& stop) {
    const char* p = b + from;
    const char* const e = b + lim;
    const char* const first = b + start; // the start-line never begins with CR or LF
    for (;;) {
        p = find_ctl(p, e);
        if (p == e) break;
        if (*p == '\t') {
            ++p;
        } else if (*p == '\r') {
            if (p + 1 == e) break;
            if (p[1] != '\n' || (p > first && p[-1] == '\n')) return Scan::Decisive; // bare CR, or CRLFCRLF
            p += 2;
        } else if (*p == '\n') { // reached only when resuming between a CR and its LF
            if (p == first || p[-1] != '\r' || (p - first >= 2 && p[-2] == '\n')) return Scan::Decisive;
            ++p;
        } else {
            return Scan::Decisive;
        }
    }
    stop = static_cast<std::size_t>(p - b);
    return Scan::Nothing;
}

struct DriverState {
    std::size_t& scanned;
    bool& line_ok;
    ParseError& error;
};

ParseStatus settle(const Verdict& v, DriverState st) {
    if (v.step == Step::Done) return ParseStatus::Complete;
    if (v.step == Step::Failed) {
        st.error = v.error;
        return ParseStatus::Error;
    }
    return ParseStatus::NeedMore;
}

// The incremental policy described at the top of this file. `parse(line_only)` parses from the
// start of data; `start` is where the start-line begins.
template <class ParseFn>
ParseStatus drive(std::string_view data, const ParserLimits& lim, std::size_t start, DriverState st, ParseFn&& parse) {
    if (!st.line_ok) { // errors in the start-line are certain as soon as its bytes are there
        const Verdict v = parse(true);
        if (v.step == Step::Failed) return settle(v, st);
        st.line_ok = v.line_done;
    }
    std::size_t stop = st.scanned;
    const std::size_t from = std::max(start, st.scanned >= 3 ? st.scanned - 3 : 0); // a CRLFCRLF may straddle
    if (data.size() >= lim.max_head_bytes ||
        scan_head(data.data(), start, from, data.size(), stop) == Scan::Decisive) {
        const Verdict v = parse(false);
        if (v.step != Step::Incomplete) return settle(v, st);
    }
    st.scanned = stop;
    return ParseStatus::NeedMore;
}

// The first call parses straight through: a whole head is the common case. Whatever it cannot
// settle -- an incomplete head -- is handed to drive(); so is an error, because an error found in
// an incomplete head may only be reported once drive() says it is certain.
template <class ParseFn, class StartFn>
ParseStatus parse_incrementally(std::string_view data, const ParserLimits& lim, DriverState st, ParseFn&& parse,
                                StartFn&& start_of_line) {
    if (st.error != E::None) return ParseStatus::Error;
    if (st.scanned > data.size()) { // not the same message: start over
        st.scanned = 0;
        st.line_ok = false;
    }
    if (st.scanned == 0) {
        const Verdict v = parse(false);
        if (v.step == Step::Done) return ParseStatus::Complete;
        if (v.step == Step::Incomplete) {
            st.scanned = data.size();
            st.line_ok = v.line_done;
            return ParseStatus::NeedMore;
        }
    }
    std::size_t start = 0;
    if (!start_of_line(start)) return settle(parse(false), st);
    return drive(data, lim, start, st, parse);
}

} // namespace

ParseStatus RequestParser::parse(std::string_view data, RequestHead& out) {
    auto parse_fn = [&](bool line_only) { return parse_request_head(data, limits_, storage_, out, line_only); };
    auto start_fn = [&](std::size_t& start) {
        const char* const b = data.data();
        const Outcome o = skip_empty_lines(b, b + std::min(data.size(), limits_.max_head_bytes));
        if (o.step != Step::Done) return false;
        start = static_cast<std::size_t>(o.next - b);
        return true;
    };
    return parse_incrementally(data, limits_, {scanned_, start_line_ok_, error_}, parse_fn, start_fn);
}

ParseStatus ResponseParser::parse(std::string_view data, ResponseHead& out, Method request_method) {
    auto parse_fn = [&](bool line_only) {
        return parse_response_head(data, limits_, storage_, out, request_method, line_only);
    };
    auto start_fn = [](std::size_t& start) {
        start = 0;
        return true;
    };
    return parse_incrementally(data, limits_, {scanned_, start_line_ok_, error_}, parse_fn, start_fn);
}

int status_for(ParseError e) {
    switch (e) {
    case E::None: return 200; // nothing to refuse
    case E::RequestLineTooLong: return 414;
    case E::HeadTooLarge:
    case E::TooManyHeaders: return 431;
    case E::UnsupportedTransferCoding: return 501;
    case E::UnsupportedVersion: return 505;
    default: return 400;
    }
}

std::string_view describe(ParseError e) {
    switch (e) {
    case E::None: return "no error";
    case E::BadRequestLine: return "malformed request-line";
    case E::BadMethod: return "method is not a token";
    case E::BadTarget: return "invalid request-target";
    case E::BadVersion: return "malformed HTTP-version";
    case E::UnsupportedVersion: return "HTTP version not supported";
    case E::RequestLineTooLong: return "request-line too long";
    case E::HeadTooLarge: return "header section too large";
    case E::TooManyHeaders: return "too many header fields";
    case E::BadHeaderName: return "invalid field name";
    case E::BadHeaderValue: return "invalid field value";
    case E::WhitespaceBeforeColon: return "whitespace between field name and colon";
    case E::ObsFold: return "obsolete line folding";
    case E::BareCR: return "CR not followed by LF";
    case E::BareLF: return "LF without CR";
    case E::LeadingWhitespace: return "whitespace before the first field line";
    case E::MissingHost: return "missing Host";
    case E::MultipleHost: return "more than one Host";
    case E::BadHost: return "invalid Host";
    case E::BadContentLength: return "invalid Content-Length";
    case E::LengthAndChunked: return "Content-Length with Transfer-Encoding";
    case E::BadTransferEncoding: return "invalid Transfer-Encoding";
    case E::UnsupportedTransferCoding: return "unsupported transfer coding";
    case E::TransferEncodingInHttp10: return "Transfer-Encoding in HTTP/1.0";
    case E::BadStatusLine: return "malformed status-line";
    case E::BadStatusCode: return "invalid status code";
    }
    return "unknown error";
}

const Header* MessageHead::find(HeaderId id) const {
    for (const Header& h : headers) {
        if (h.id == id) return &h;
    }
    return nullptr;
}

bool is_idempotent(Method m) {
    switch (m) {
    case Method::Get:
    case Method::Head:
    case Method::Options:
    case Method::Trace:
    case Method::Put:
    case Method::Delete: return true;
    default: return false;
    }
}

} // namespace haven::http
