// libFuzzer target for the HTTP/1.1 head parsers and the chunked decoder. Beyond "does not
// crash", it checks the properties the parser promises (src/http/parser.hpp):
//   * the answer does not depend on how the bytes were split (whole, two pieces, byte by byte):
//     same status, same error, same fields;
//   * a complete head lies inside the input, ends with CRLFCRLF, every view and line_len lies in
//     it, and the head alone parses to the same result;
//   * the chunked decoder gives the same status, error, end and payload for any split.
// Every piece is handed over in an exact-size heap copy, so ASan sees any read past it.
#include "http/chunked.hpp"
#include "http/parser.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace haven::http;

void require(bool ok) {
    if (!ok) __builtin_trap();
}

class Copy {
public:
    explicit Copy(std::string_view s) : size_(s.size()), data_(new char[s.size() + (s.empty() ? 1 : 0)]) {
        if (!s.empty()) std::memcpy(data_.get(), s.data(), s.size());
    }
    std::string_view view() const { return {data_.get(), size_}; }

private:
    std::size_t size_;
    std::unique_ptr<char[]> data_;
};

// A parse result as values: offsets instead of pointers, so results over different copies of
// the same bytes compare equal.
std::string summary(ParseStatus st, ParseError err, std::string_view buf, const MessageHead& m, std::string extra) {
    std::string s = std::to_string(static_cast<int>(st)) + "/" + std::to_string(static_cast<int>(err));
    if (st != ParseStatus::Complete) return s;
    auto off = [&](std::string_view v) {
        if (v.empty()) return std::string("-");
        require(v.data() >= buf.data() && v.data() + v.size() <= buf.data() + m.head_size);
        return std::to_string(v.data() - buf.data()) + ":" + std::to_string(v.size());
    };
    require(m.head_size >= 4 && m.head_size <= buf.size());
    require(buf.substr(m.head_size - 4, 4) == "\r\n\r\n");
    s += " head=" + std::to_string(m.head_size) + " v=" + std::to_string(m.version_minor) +
         " body=" + std::to_string(static_cast<int>(m.body)) + " cl=" +
         std::to_string(m.body == BodyKind::ContentLength ? m.content_length : 0) + " flags=" +
         std::to_string(m.connection_close) + std::to_string(m.connection_keep_alive) +
         std::to_string(m.connection_upgrade) + std::to_string(m.has_trailer_field);
    for (const Header& h : m.headers) {
        require(!h.name.empty());
        require(h.name.data() + h.line_len <= buf.data() + m.head_size);
        require(std::string_view(h.name.data(), h.line_len).ends_with("\r\n"));
        s += " [" + off(h.name) + "=" + off(h.value) + " " + std::to_string(h.line_len) + " " +
             std::to_string(static_cast<int>(h.id)) + (h.hop_by_hop ? "h]" : "]");
    }
    return s + extra;
}

struct RequestRun {
    ParserLimits limits;
    std::string operator()(std::string_view buf, RequestParser& p) const {
        RequestHead r;
        const ParseStatus st = p.parse(buf, r);
        std::string extra;
        if (st == ParseStatus::Complete) {
            auto off = [&](std::string_view v) {
                // path may be the constant "/" (absolute-form without a path), so only its text counts
                return std::string(v) + "@" + std::to_string(v.size());
            };
            require(r.request_line_size <= r.head_size);
            require(r.method_text.data() + r.request_line_size <= buf.data() + r.head_size);
            extra = " " + off(r.method_text) + " " + off(r.target) + " " + off(r.path) + " " + off(r.query) + " " +
                    off(r.host) + " " + std::to_string(static_cast<int>(r.method)) + std::to_string(r.absolute_form) +
                    std::to_string(r.expect_continue) + std::to_string(r.expect_other) + " " +
                    std::to_string(r.request_line_size);
        }
        return summary(st, p.error(), buf, r, extra);
    }
};

struct ResponseRun {
    Method method;
    std::string operator()(std::string_view buf, ResponseParser& p) const {
        ResponseHead r;
        const ParseStatus st = p.parse(buf, r, method);
        std::string extra;
        if (st == ParseStatus::Complete) {
            require(r.status >= 100 && r.status <= 999 && r.status_line_size <= r.head_size);
            extra = " " + std::to_string(r.status) + " " + std::string(r.reason) + " " + std::to_string(r.status_line_size);
        }
        return summary(st, p.error(), buf, r, extra);
    }
};

// Feeds growing prefixes ending at each cut, then the whole; returns the last answer.
template <class Parser, class Run>
std::string feed(std::string_view data, ParserLimits limits, const Run& run, std::size_t step, std::size_t first_cut) {
    std::array<Header, 16> storage;
    Parser p(limits, storage);
    std::string last;
    std::size_t n = first_cut;
    for (;;) {
        const Copy c(data.substr(0, n));
        last = run(c.view(), p);
        if (n == data.size() || last[0] != '1') return last; // '1' is NeedMore
        n = std::min(data.size(), n + step);
    }
}

template <class Parser, class Run>
void check_head_parser(std::string_view data, ParserLimits limits, const Run& run, std::size_t cut) {
    const std::string whole = feed<Parser>(data, limits, run, data.size(), data.size());
    require(feed<Parser>(data, limits, run, data.size(), cut) == whole);
    if (data.size() <= 300) require(feed<Parser>(data, limits, run, 1, 0) == whole);
    // A complete head needs nothing after it.
    const std::size_t space = whole.find(" head=");
    if (whole[0] == '0' && space != std::string::npos) {
        const std::size_t head = std::strtoul(whole.c_str() + space + 6, nullptr, 10);
        require(feed<Parser>(data.substr(0, head), limits, run, head, head) == whole);
    }
}

struct Chunks {
    std::string payload;
    std::size_t consumed = 0;
    int status = 0;
    int error = 0;
    bool operator==(const Chunks&) const = default;
};

Chunks decode(std::string_view data, std::size_t cut) {
    ChunkedDecoder d(64, 256);
    Chunks out;
    for (std::string_view piece : {data.substr(0, cut), data.substr(cut)}) {
        const Copy c(piece);
        const auto r = d.feed(c.view(), [](void* ctx, std::string_view p) { static_cast<std::string*>(ctx)->append(p); },
                              &out.payload);
        require(r.consumed <= piece.size());
        out.consumed += r.consumed;
        out.status = static_cast<int>(r.status);
        if (r.status != ChunkedDecoder::Status::NeedMore) break;
        require(r.consumed == piece.size());
    }
    out.error = static_cast<int>(d.error());
    require(d.payload_bytes() == out.payload.size());
    if (out.status != static_cast<int>(ChunkedDecoder::Status::Done)) out.consumed = 0; // defined only when Done
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view data(reinterpret_cast<const char*>(bytes), size);
    const std::size_t cut = (static_cast<std::size_t>(bytes[0]) * 257 + size / 2) % (size + 1);
    // Small limits half the time, so the limit paths see traffic too.
    const bool small = (bytes[size - 1] & 1) != 0;
    const ParserLimits limits = small ? ParserLimits{.max_head_bytes = 200, .max_request_line = 48} : ParserLimits{};

    check_head_parser<RequestParser>(data, limits, RequestRun{limits}, cut);
    static constexpr Method kMethods[] = {Method::Get, Method::Head, Method::Connect, Method::Post};
    check_head_parser<ResponseParser>(data, limits, ResponseRun{kMethods[bytes[size - 1] >> 6]}, cut);

    const Chunks whole = decode(data, size);
    require(decode(data, cut) == whole);
    require(decode(data, size / 3) == whole);
    return 0;
}
