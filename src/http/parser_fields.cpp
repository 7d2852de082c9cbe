// What a parsed head means: the request-target's form (RFC 9112 §3.2), message framing
// (RFC 9112 §6), the connection (RFC 9110 §7.6.1, RFC 9112 §9), the Host (RFC 9112 §3.2) and
// Expect (RFC 9110 §10.1.1). Field semantics run once per head, after every line has been
// checked, over fields already classified.
#include "http/parser_internal.hpp"
#include "http/syntax.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace haven::http::detail {
namespace {

using namespace syntax;

constexpr std::uint64_t kMaxContentLength = std::uint64_t{1} << 62;

// What the framing and connection fields of one head say, gathered in one pass.
struct FieldFacts {
    bool cl_present = false;
    bool cl_bad = false;
    std::uint64_t cl = 0;
    bool te_present = false;
    bool te_bad = false;        // malformed list, or chunked with parameters
    bool te_last_chunked = false;
    int te_codings = 0;
    int te_chunked = 0;
    bool te_other = false;      // some coding other than chunked
    bool connection_bad = false;
    bool connection_options = false; // Connection names fields that must be dropped
    int hosts = 0;
    ParseError host_error = ParseError::None;
};

// Content-Length = 1*DIGIT; a list of identical values is the same value (RFC 9112 §6.3 rule 5).
// Values are compared across all lines; no sign, no inner space, no empty element.
void add_content_length(std::string_view v, FieldFacts& f) {
    const char* p = v.data();
    const char* const e = p + v.size();
    for (;;) {
        if (p == e || !is_digit(*p)) {
            f.cl_bad = true;
            return;
        }
        std::uint64_t n = 0;
        do {
            if (n > kMaxContentLength / 10) { // n * 10 + 9 cannot wrap below this
                f.cl_bad = true;
                return;
            }
            n = n * 10 + static_cast<unsigned>(*p++ - '0');
            if (n > kMaxContentLength) {
                f.cl_bad = true;
                return;
            }
        } while (p < e && is_digit(*p));
        if (f.cl_present && n != f.cl) f.cl_bad = true;
        f.cl_present = true;
        f.cl = n;
        p = skip_ows(p, e);
        if (p == e) return;
        if (*p != ',') {
            f.cl_bad = true;
            return;
        }
        p = skip_ows(p + 1, e);
    }
}

const char* skip_token(const char* p, const char* e) {
    while (p < e && is_tchar(*p)) ++p;
    return p;
}

// quoted-string (RFC 9110 §5.6.4) starting at the opening quote; nullptr if malformed.
const char* skip_quoted(const char* p, const char* e) {
    for (++p; p < e; ++p) {
        if (*p == '"') return p + 1;
        if (*p == '\\') {
            if (++p == e) return nullptr; // values hold no CTL but HTAB, so any octet may follow
        } else if (!has(*p, kQdtext)) {
            return nullptr;
        }
    }
    return nullptr;
}

// *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) ) (RFC 9110 §5.6.6, §10.1.4);
// returns the end of the last parameter (p if there is none), or nullptr if malformed.
const char* skip_parameters(const char* p, const char* e) {
    for (;;) {
        const char* q = skip_ows(p, e);
        if (q == e || *q != ';') return p;
        q = skip_ows(q + 1, e);
        const char* name_end = skip_token(q, e);
        if (name_end == q) return nullptr;
        q = skip_ows(name_end, e);
        if (q == e || *q != '=') return nullptr;
        q = skip_ows(q + 1, e);
        if (q == e) return nullptr;
        p = *q == '"' ? skip_quoted(q, e) : skip_token(q, e);
        if (p == nullptr || p == q) return nullptr;
    }
}

// Transfer-Encoding = #transfer-coding (RFC 9112 §6.1), accumulated across all lines.
void add_transfer_encoding(std::string_view v, FieldFacts& f) {
    f.te_present = true;
    const char* p = v.data();
    const char* const e = p + v.size();
    for (;;) {
        p = skip_ows(p, e);
        if (p == e) return;
        if (*p == ',') { // empty list elements are allowed (RFC 9110 §5.6.1)
            ++p;
            continue;
        }
        const char* const name = p;
        p = skip_token(p, e);
        const char* const after = p == name ? nullptr : skip_parameters(p, e);
        if (after == nullptr) {
            f.te_bad = true;
            return;
        }
        const bool chunked = token_is(std::string_view(name, static_cast<std::size_t>(p - name)), "chunked");
        if (chunked && after != p) f.te_bad = true; // chunked takes no parameters
        f.te_chunked += chunked ? 1 : 0;
        f.te_other = f.te_other || !chunked;
        f.te_last_chunked = chunked;
        ++f.te_codings;
        p = skip_ows(after, e);
        if (p != e && *p != ',') {
            f.te_bad = true;
            return;
        }
    }
}

// Calls fn(token) for each element of a #token list; false if an element is not a token.
template <class Fn>
bool for_each_token(std::string_view v, Fn&& fn) {
    const char* p = v.data();
    const char* const e = p + v.size();
    for (;;) {
        p = skip_ows(p, e);
        if (p == e) return true;
        if (*p == ',') {
            ++p;
            continue;
        }
        const char* const t = p;
        p = skip_token(p, e);
        if (p == t) return false;
        fn(std::string_view(t, static_cast<std::size_t>(p - t)));
        p = skip_ows(p, e);
        if (p != e && *p != ',') return false;
    }
}

bool is_connection_keyword(std::string_view t) {
    return token_is(t, "close") || token_is(t, "keep-alive") || token_is(t, "upgrade");
}

// Connection = #connection-option (RFC 9110 §7.6.1).
void add_connection(std::string_view v, MessageHead& m, FieldFacts& f) {
    const bool ok = for_each_token(v, [&](std::string_view t) {
        if (token_is(t, "close")) m.connection_close = true;
        else if (token_is(t, "keep-alive")) m.connection_keep_alive = true;
        else if (token_is(t, "upgrade")) m.connection_upgrade = true;
        else f.connection_options = true;
    });
    if (!ok) f.connection_bad = true;
}

// Fields named by a Connection option are dropped when forwarding (RFC 9110 §7.6.1) -- except
// the ones haven itself framed or routed the message by. A client naming Content-Length,
// Transfer-Encoding or Host there would otherwise make haven send the body with framing the next
// hop cannot see (a desync); such an option is meaningless anyway and is ignored.
void mark_connection_options(std::span<Header> headers) {
    for (const Header& c : headers) {
        if (c.id != HeaderId::Connection) continue;
        for_each_token(c.value, [&](std::string_view t) {
            if (is_connection_keyword(t)) return;
            for (Header& h : headers) {
                if (h.id == HeaderId::ContentLength || h.id == HeaderId::TransferEncoding || h.id == HeaderId::Host) {
                    continue;
                }
                if (tokens_equal(h.name, t)) h.hop_by_hop = true;
            }
        });
    }
}

// Expect = #expectation; only 100-continue is defined, and an HTTP/1.0 client cannot handle
// the interim 100 response, so there it is ignored (RFC 9110 §10.1.1).
void add_expect(std::string_view v, RequestHead& r) {
    while (!v.empty()) {
        const std::size_t comma = v.find(',');
        const std::string_view element = trim_ows(v.substr(0, comma));
        if (token_is(element, "100-continue")) r.expect_continue = r.version_minor >= 1;
        else if (!element.empty()) r.expect_other = true;
        v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    }
}

// One pass over the fields shared by requests and responses; request-only fields are read when
// `req` is given.
FieldFacts gather(MessageHead& m, RequestHead* req) {
    // Most fields mean nothing here; test that with one predictable branch, not a jump table.
    constexpr auto bit = [](HeaderId id) { return 1U << static_cast<unsigned>(id); };
    constexpr unsigned kMeaningful = bit(HeaderId::ContentLength) | bit(HeaderId::TransferEncoding) |
                                     bit(HeaderId::Connection) | bit(HeaderId::Trailer) | bit(HeaderId::Expect) |
                                     bit(HeaderId::Host);
    FieldFacts f;
    for (const Header& h : m.headers) {
        if ((kMeaningful & bit(h.id)) == 0) continue;
        switch (h.id) {
        case HeaderId::ContentLength: add_content_length(h.value, f); break;
        case HeaderId::TransferEncoding: add_transfer_encoding(h.value, f); break;
        case HeaderId::Connection: add_connection(h.value, m, f); break;
        case HeaderId::Trailer: m.has_trailer_field = true; break;
        case HeaderId::Expect:
            if (req != nullptr) add_expect(h.value, *req);
            break;
        case HeaderId::Host:
            if (req == nullptr) break;
            if (++f.hosts > 1) {
                if (f.host_error == ParseError::None) f.host_error = ParseError::MultipleHost;
            } else if (!valid_authority(h.value, PortRule::Optional)) {
                f.host_error = ParseError::BadHost; // empty included: every http URI has a host
            } else if (req->host.empty()) {
                req->host = h.value; // absolute- and authority-form already set it from the target
            }
            break;
        default: break;
        }
    }
    return f;
}

// Rules common to both directions, most dangerous first (RFC 9112 §6.1, §6.3).
ParseError framing_error(const MessageHead& m, const FieldFacts& f) {
    if (f.te_present && m.version_minor == 0) return ParseError::TransferEncodingInHttp10;
    if (f.te_present && f.cl_present) return ParseError::LengthAndChunked;
    if (f.cl_bad) return ParseError::BadContentLength;
    if (f.te_present && (f.te_bad || f.te_codings == 0 || f.te_chunked > 1)) return ParseError::BadTransferEncoding;
    if (f.connection_bad) return ParseError::BadHeaderValue;
    return ParseError::None;
}

void split_path_query(RequestHead& r, std::string_view path_and_query, const char* query) {
    if (query == nullptr) {
        r.path = path_and_query;
        return;
    }
    const auto at = static_cast<std::size_t>(query - path_and_query.data());
    r.path = path_and_query.substr(0, at);
    r.query = path_and_query.substr(at + 1);
}

// absolute-form (RFC 9112 §3.2.2): an http or https URI without userinfo or fragment.
ParseError parse_absolute_form(RequestHead& r, const TargetMarks& m) {
    const std::string_view t = r.target;
    std::size_t scheme = 0;
    if (t.size() >= 7 && token_is(t.data(), "http://")) scheme = 7;
    else if (t.size() >= 8 && token_is(t.data(), "https://")) scheme = 8;
    else return ParseError::BadTarget;
    const std::size_t query_at = m.query != nullptr ? static_cast<std::size_t>(m.query - t.data()) : t.size();
    const std::size_t auth_end = std::min(t.find('/', scheme), query_at);
    const std::string_view authority = t.substr(scheme, auth_end - scheme);
    if (!valid_authority(authority, PortRule::Optional)) return ParseError::BadTarget;
    const std::string_view rest = t.substr(auth_end);
    if (m.bracket && rest.find_first_of("[]") != std::string_view::npos) return ParseError::BadTarget;
    r.absolute_form = true;
    r.host = authority;
    split_path_query(r, rest, m.query);
    if (r.path.empty()) r.path = "/";
    return ParseError::None;
}

} // namespace

// Which form the target takes decides what it may hold (RFC 9112 §3.2.1-§3.2.4).
ParseError classify_target(RequestHead& r, const TargetMarks& m) {
    const std::string_view t = r.target;
    if (r.method == Method::Connect) { // authority-form = uri-host ":" port, for CONNECT only
        if (m.query != nullptr || !valid_authority(t, PortRule::Required)) return ParseError::BadTarget;
        r.host = t;
        return ParseError::None;
    }
    if (t[0] == '/') {
        if (m.bracket) return ParseError::BadTarget;
        split_path_query(r, t, m.query);
        return ParseError::None;
    }
    if (t == "*") { // asterisk-form, for OPTIONS only
        if (r.method != Method::Options) return ParseError::BadTarget;
        r.path = t;
        return ParseError::None;
    }
    return parse_absolute_form(r, m);
}

ParseError apply_request_fields(RequestHead& req) {
    const FieldFacts f = gather(req, &req);
    if (const ParseError e = framing_error(req, f); e != ParseError::None) return e;
    if (f.te_present) {
        // A request body must end with chunked, exactly once (RFC 9112 §6.3 rule 4); any other
        // coding is one haven does not implement (RFC 9112 §6.1: 501).
        if (f.te_chunked == 1 && !f.te_last_chunked) return ParseError::BadTransferEncoding;
        if (f.te_other) return ParseError::UnsupportedTransferCoding;
    }
    if (f.host_error != ParseError::None) return f.host_error;
    if (f.hosts == 0 && req.version_minor >= 1) return ParseError::MissingHost;
    if (f.connection_options) mark_connection_options(req.headers);
    if (f.te_present) {
        req.body = BodyKind::Chunked;
    } else if (f.cl_present) {
        req.body = BodyKind::ContentLength;
        req.content_length = f.cl;
    }
    return ParseError::None;
}

ParseError apply_response_fields(ResponseHead& resp, Method request_method) {
    const FieldFacts f = gather(resp, nullptr);
    if (const ParseError e = framing_error(resp, f); e != ParseError::None) return e;
    if (f.connection_options) mark_connection_options(resp.headers);
    // RFC 9112 §6.3 rules 1-2: these responses never have content, whatever the fields say.
    const int s = resp.status;
    if (request_method == Method::Head || s < 200 || s == 204 || s == 304 ||
        (request_method == Method::Connect && s < 300)) {
        resp.body = BodyKind::None;
    } else if (f.te_present) {
        // Rule 4: a response whose final coding is not chunked is delimited by closing.
        resp.body = f.te_last_chunked ? BodyKind::Chunked : BodyKind::UntilClose;
    } else if (f.cl_present) {
        resp.body = BodyKind::ContentLength;
        resp.content_length = f.cl;
    } else {
        resp.body = BodyKind::UntilClose;
    }
    return ParseError::None;
}

bool valid_authority(std::string_view s, PortRule port) {
    const char* p = s.data();
    const char* const e = p + s.size();
    if (p == e) return false;
    if (*p == '[') {
        // IP-literal, checked loosely: hex digits, colons and dots (an embedded IPv4 tail).
        bool colon = false;
        for (++p; p < e && (is_hex(*p) || *p == ':' || *p == '.'); ++p) colon = colon || *p == ':';
        if (p == e || *p != ']' || !colon) return false;
        ++p;
    } else {
        const char* const host = p;
        while (p < e) {
            if (has(*p, kRegName)) ++p;
            else if (*p == '%' && e - p >= 3 && is_hex(p[1]) && is_hex(p[2])) p += 3;
            else break;
        }
        if (p == host) return false;
    }
    if (p == e) return port == PortRule::Optional;
    if (*p != ':') return false;
    unsigned value = 0;
    int digits = 0;
    for (++p; p < e && is_digit(*p) && digits < 5; ++p, ++digits) value = value * 10 + static_cast<unsigned>(*p - '0');
    if (p != e) return false;
    if (digits == 0) return port == PortRule::Optional; // port = *DIGIT
    return value <= 65535;
}

namespace {

struct KnownName {
    std::string_view lower;
    HeaderId id;
};

// Index 0 is "no candidate". Each name is the only one with its length and first letter, so
// (length, first letter) picks at most one candidate and one comparison settles it: no jump
// table, whose indirect branch would mispredict on most field lines.
constexpr KnownName kKnown[] = {
    {"", HeaderId::Other},
    {"te", HeaderId::TE},
    {"via", HeaderId::Via},
    {"host", HeaderId::Host},
    {"date", HeaderId::Date},
    {"cookie", HeaderId::Cookie},
    {"expect", HeaderId::Expect},
    {"server", HeaderId::Server},
    {"upgrade", HeaderId::Upgrade},
    {"trailer", HeaderId::Trailer},
    {"connection", HeaderId::Connection},
    {"keep-alive", HeaderId::KeepAlive},
    {"x-request-id", HeaderId::XRequestId},
    {"content-length", HeaderId::ContentLength},
    {"x-forwarded-for", HeaderId::XForwardedFor},
    {"proxy-connection", HeaderId::ProxyConnection},
    {"transfer-encoding", HeaderId::TransferEncoding},
    {"x-forwarded-proto", HeaderId::XForwardedProto},
};
constexpr std::size_t kMaxKnownLength = 17;

using SlotTable = std::array<std::array<std::uint8_t, 32>, kMaxKnownLength + 1>;

constexpr SlotTable make_slots() {
    SlotTable t{};
    for (std::size_t i = 1; i < std::size(kKnown); ++i) {
        auto& slot = t[kKnown[i].lower.size()][static_cast<unsigned char>(kKnown[i].lower[0]) & 31U];
        if (slot != 0) throw "two known field names share a slot"; // compile-time error
        slot = static_cast<std::uint8_t>(i);
    }
    return t;
}
constexpr SlotTable kSlots = make_slots();

std::uint64_t load(const char* p, std::size_t n) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, n);
    return v;
}

// name (a token) equals `lower` ignoring ASCII case, for lengths 2..17 (see token_is).
bool equals_lower(const char* name, std::string_view lower) {
    const std::size_t n = lower.size();
    const char* l = lower.data();
    if (n >= 8) {
        constexpr std::uint64_t kFold = 0x2020202020202020ULL;
        for (std::size_t i = 0; i + 8 < n; i += 8) {
            if ((load(name + i, 8) | kFold) != load(l + i, 8)) return false;
        }
        return (load(name + n - 8, 8) | kFold) == load(l + n - 8, 8);
    }
    if (n >= 4) {
        constexpr std::uint64_t kFold = 0x20202020U;
        return (load(name, 4) | kFold) == load(l, 4) && (load(name + n - 4, 4) | kFold) == load(l + n - 4, 4);
    }
    for (std::size_t i = 0; i < n; ++i) {
        if ((static_cast<unsigned char>(name[i]) | 0x20U) != static_cast<unsigned char>(l[i])) return false;
    }
    return true;
}

} // namespace

HeaderId classify_header(const char* name, std::size_t len) {
    if (len > kMaxKnownLength) return HeaderId::Other;
    const KnownName& k = kKnown[kSlots[len][static_cast<unsigned char>(name[0]) & 31U]];
    return k.lower.size() == len && equals_lower(name, k.lower) ? k.id : HeaderId::Other;
}

} // namespace haven::http::detail
