// Helpers for the parser tests: every parse runs on an exact-size heap copy of its input, so the
// address sanitizer catches any read past the bytes the parser was given, and every result is
// turned into a value (strings, offsets) so results from different buffers can be compared.
#pragma once

#include "http/parser.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace haven::http::test {

// Owns an exact-size copy of some bytes.
class Bytes {
public:
    explicit Bytes(std::string_view s) : size_(s.size()), data_(new char[s.size() == 0 ? 1 : s.size()]) {
        if (!s.empty()) std::memcpy(data_.get(), s.data(), s.size());
    }
    std::string_view view() const { return {data_.get(), size_}; }

private:
    std::size_t size_;
    std::unique_ptr<char[]> data_;
};

struct HeaderSnap {
    std::string name;
    std::string value;
    std::size_t offset = 0; // of the name in the buffer
    std::uint32_t line_len = 0;
    HeaderId id = HeaderId::Other;
    bool hop_by_hop = false;
    bool operator==(const HeaderSnap&) const = default;
};

// Everything a parse produced, as values.
struct Snap {
    ParseStatus status = ParseStatus::NeedMore;
    ParseError error = ParseError::None;
    // Complete only:
    std::vector<HeaderSnap> headers;
    int version_minor = -1;
    BodyKind body = BodyKind::None;
    std::uint64_t content_length = 0;
    std::size_t head_size = 0;
    bool close = false, keep_alive_token = false, upgrade = false, trailer = false, keep_alive = false;
    // requests
    std::string method_text, target, path, query, host;
    Method method = Method::Other;
    bool absolute_form = false, expect_continue = false, expect_other = false;
    std::size_t line_size = 0; // request-line or status-line
    // responses
    int status_code = 0;
    std::string reason;
    bool operator==(const Snap&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Snap& s) {
    os << "{status=" << static_cast<int>(s.status) << " error=" << describe(s.error) << " head_size=" << s.head_size
       << " headers=" << s.headers.size() << " target=" << s.target << " host=" << s.host << "}";
    return os;
}

// Checks what must hold for any complete head, whatever the message: views inside the buffer,
// line_len covering "name ... CRLF", the head ending with the blank line.
inline void check_views(std::string_view buf, const MessageHead& m) {
    const char* b = buf.data();
    const char* e = b + buf.size();
    auto inside = [&](std::string_view v) { return v.empty() || (v.data() >= b && v.data() + v.size() <= e); };
    ASSERT_LE(m.head_size, buf.size());
    ASSERT_GE(m.head_size, 4u);
    EXPECT_EQ(buf.substr(m.head_size - 4, 4), "\r\n\r\n");
    for (const Header& h : m.headers) {
        ASSERT_TRUE(inside(h.name) && inside(h.value));
        ASSERT_LE(h.name.data() + h.line_len, b + m.head_size);
        const std::string_view line(h.name.data(), h.line_len);
        EXPECT_EQ(line.substr(line.size() - 2), "\r\n");
        EXPECT_GE(h.value.data(), h.name.data() + h.name.size());
    }
}

inline void fill_common(Snap& s, std::string_view buf, const MessageHead& m) {
    for (const Header& h : m.headers) {
        s.headers.push_back({std::string(h.name), std::string(h.value), static_cast<std::size_t>(h.name.data() - buf.data()),
                             h.line_len, h.id, h.hop_by_hop});
    }
    s.version_minor = m.version_minor;
    s.body = m.body;
    s.content_length = m.body == BodyKind::ContentLength ? m.content_length : 0;
    s.head_size = m.head_size;
    s.close = m.connection_close;
    s.keep_alive_token = m.connection_keep_alive;
    s.upgrade = m.connection_upgrade;
    s.trailer = m.has_trailer_field;
    s.keep_alive = m.keep_alive();
    check_views(buf, m);
}

inline Snap snap(ParseStatus st, ParseError err, std::string_view buf, const RequestHead& r) {
    Snap s;
    s.status = st;
    if (st != ParseStatus::Complete) {
        s.error = st == ParseStatus::Error ? err : ParseError::None;
        return s;
    }
    fill_common(s, buf, r);
    s.method_text = r.method_text;
    s.method = r.method;
    s.target = r.target;
    s.path = r.path;
    s.query = r.query;
    s.host = r.host;
    s.absolute_form = r.absolute_form;
    s.expect_continue = r.expect_continue;
    s.expect_other = r.expect_other;
    s.line_size = r.request_line_size;
    return s;
}

inline Snap snap(ParseStatus st, ParseError err, std::string_view buf, const ResponseHead& r) {
    Snap s;
    s.status = st;
    if (st != ParseStatus::Complete) {
        s.error = st == ParseStatus::Error ? err : ParseError::None;
        return s;
    }
    fill_common(s, buf, r);
    s.status_code = r.status;
    s.reason = r.reason;
    s.line_size = r.status_line_size;
    return s;
}

// Drives one parser over a message that arrives in pieces; each call gets a fresh exact-size
// copy of everything received so far, as a socket buffer that grew (and maybe moved) would.
template <class Parser, class Head>
class Feeder {
public:
    Feeder(ParserLimits limits, std::size_t storage, Method request_method = Method::Get)
        : storage_(storage), parser_(limits, storage_), method_(request_method) {}

    Snap feed(std::string_view prefix) {
        buf_ = std::make_unique<Bytes>(prefix);
        Head head;
        ParseStatus st;
        if constexpr (std::is_same_v<Head, ResponseHead>) st = parser_.parse(buf_->view(), head, method_);
        else st = parser_.parse(buf_->view(), head);
        return snap(st, parser_.error(), buf_->view(), head);
    }
    Parser& parser() { return parser_; }

private:
    std::vector<Header> storage_;
    Parser parser_;
    Method method_;
    std::unique_ptr<Bytes> buf_;
};

using RequestFeeder = Feeder<RequestParser, RequestHead>;
using ResponseFeeder = Feeder<ResponseParser, ResponseHead>;

// The split-proof property (parser.hpp): parsing `msg` whole, in two pieces cut at every byte,
// and one byte at a time gives the same answer. Returns the whole-message answer.
template <class F, class... Args>
Snap expect_split_proof(const std::string& msg, Args... args) {
    F whole(args...);
    const Snap expected = whole.feed(msg);
    for (std::size_t cut = 0; cut < msg.size(); ++cut) {
        F f(args...);
        const Snap first = f.feed(std::string_view(msg).substr(0, cut));
        if (first.status == ParseStatus::NeedMore) {
            EXPECT_EQ(f.feed(msg), expected) << "cut at " << cut;
        } else {
            // Decided early: only possible when the decision needs no more bytes.
            EXPECT_EQ(first, expected) << "cut at " << cut;
        }
        if (::testing::Test::HasFailure()) return expected;
    }
    F bytes(args...);
    Snap last;
    for (std::size_t n = 0; n <= msg.size(); ++n) {
        last = bytes.feed(std::string_view(msg).substr(0, n));
        if (last.status != ParseStatus::NeedMore) break;
    }
    EXPECT_EQ(last, expected) << "byte by byte";
    return expected;
}

} // namespace haven::http::test
