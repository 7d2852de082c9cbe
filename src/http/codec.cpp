#include "http/codec.hpp"

#include "http/syntax.hpp"

namespace haven::http {

std::size_t HeadBuilder::size() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += pieces_[i].size();
    return n;
}

std::string HeadBuilder::str() const {
    std::string s;
    s.reserve(size());
    for (std::size_t i = 0; i < count_; ++i) s.append(pieces_[i]);
    return s;
}

void HeadBuilder::add(std::string_view piece) {
    if (piece.empty()) return;
    if (count_ == kMaxPieces) spill();
    pieces_[count_++] = piece;
}

void HeadBuilder::add_run(const char* begin, const char* end) {
    if (begin == end) return;
    if (count_ > 0) {
        auto& last = pieces_[count_ - 1];
        if (last.data() + last.size() == begin) {
            last = std::string_view(last.data(), last.size() + static_cast<std::size_t>(end - begin));
            return;
        }
    }
    add(std::string_view(begin, static_cast<std::size_t>(end - begin)));
}

// Rare: a head with many dropped lines. Copy what we have into one piece and carry on.
void HeadBuilder::spill() {
    std::string joined = str();
    spill_ = std::move(joined);
    pieces_[0] = spill_;
    count_ = 1;
}

namespace {

// Which received field lines are not forwarded.
struct DropRules {
    bool expect = false;            // requests: haven answers 100-continue itself
    bool host = false;              // absolute-form: Host is replaced (RFC 9112 §3.2.2)
    bool transfer_encoding = false; // the body is being de-chunked
    bool content_length = false;    // repeated or list-valued: replaced by one clean line
    bool forwarded_proto = false;   // replaced by haven's (TLS listeners)
};

bool dropped(const DropRules& d, const Header& h) {
    if (h.hop_by_hop) return true;
    switch (h.id) {
    case HeaderId::Expect: return d.expect;
    case HeaderId::Host: return d.host;
    case HeaderId::TransferEncoding: return d.transfer_encoding;
    case HeaderId::XForwardedProto: return d.forwarded_proto;
    case HeaderId::ContentLength: return d.content_length;
    default: return false;
    }
}

void add_fields(const MessageHead& head, HeadBuilder& out, const DropRules& d) {
    for (const Header& h : head.headers) {
        if (dropped(d, h)) continue;
        out.add_run(h.name.data(), h.name.data() + h.line_len);
    }
}

// The parser accepts several identical Content-Length values (RFC 9112 §6.3); the next hop might
// not, so such a message is forwarded with a single "Content-Length: N".
bool unusual_length(const MessageHead& m) {
    if (m.body != BodyKind::ContentLength) return false;
    int lines = 0;
    for (const Header& h : m.headers) {
        if (h.id != HeaderId::ContentLength) continue;
        if (++lines > 1) return true;
        for (char c : h.value) {
            if (c < '0' || c > '9') return true;
        }
    }
    return false;
}

void append_length(std::string& t, std::uint64_t n) {
    char digits[24];
    std::size_t i = sizeof digits;
    do {
        digits[--i] = static_cast<char>('0' + n % 10);
        n /= 10;
    } while (n);
    t.append("Content-Length: ").append(digits + i, sizeof digits - i).append("\r\n");
}

constexpr std::string_view kUpgradeWebSocket = "Connection: Upgrade\r\nUpgrade: websocket\r\n";

bool lists_websocket(std::string_view list) {
    for (;;) {
        const std::size_t comma = list.find(',');
        if (syntax::token_is(syntax::trim_ows(list.substr(0, comma)), "websocket")) return true;
        if (comma == std::string_view::npos) return false;
        list.remove_prefix(comma + 1);
    }
}

} // namespace

bool is_websocket_upgrade(const MessageHead& m) {
    if (!m.connection_upgrade) return false;
    for (const Header& h : m.headers) {
        if (h.id == HeaderId::Upgrade && lists_websocket(h.value)) return true;
    }
    return false;
}

void build_request_head(const RequestHead& req, std::string_view raw, const RequestRewrite& rw, HeadBuilder& out) {
    out.clear();
    std::string& t = out.text();
    // Generated text first, so the views taken below stay valid. haven sends its own version
    // (RFC 9110 §6.2): any request line not already "... HTTP/1.1" is rewritten.
    const std::string_view line(req.method_text.data(), req.request_line_size);
    const bool rewrite_line = req.absolute_form || !line.ends_with("HTTP/1.1\r\n");
    if (rewrite_line) {
        t.append(req.method_text).append(" ");
        if (req.absolute_form) {
            t.append(req.path.empty() ? std::string_view("/") : req.path);
            if (!req.query.empty()) t.append("?").append(req.query);
        } else {
            t.append(req.target);
        }
        t.append(" HTTP/1.1\r\n");
    }
    const std::size_t line_end = t.size();
    if (req.absolute_form) {
        t.append("Host: ").append(req.host).append("\r\n");
    } else if (req.host.empty() && !req.find(HeaderId::Host) && !rw.default_host.empty()) {
        t.append("Host: ").append(rw.default_host).append("\r\n");
    }
    DropRules drop;
    drop.expect = true;
    drop.host = req.absolute_form;
    drop.content_length = unusual_length(req);
    if (drop.content_length) append_length(t, req.content_length);
    t.append("X-Forwarded-For: ").append(rw.client_ip).append("\r\n");
    drop.forwarded_proto = rw.replace_proto;
    if (rw.replace_proto || !req.find(HeaderId::XForwardedProto)) t.append("X-Forwarded-Proto: ").append(rw.proto).append("\r\n");
    if (!rw.request_id.empty()) t.append("X-Request-Id: ").append(rw.request_id).append("\r\n");
    if (rw.upgrade_websocket) t.append(kUpgradeWebSocket);
    t.append("Via: 1.1 haven\r\n\r\n");

    const std::string_view text(t);
    if (rewrite_line) {
        out.add(text.substr(0, line_end));
    } else {
        out.add_run(line.data(), line.data() + line.size());
    }
    add_fields(req, out, drop);
    out.add(text.substr(line_end));
    (void)raw;
}

void build_response_head(const ResponseHead& resp, std::string_view raw, const ResponseRewrite& rw, HeadBuilder& out) {
    out.clear();
    std::string& t = out.text();
    DropRules drop;
    drop.transfer_encoding = rw.drop_transfer_encoding;
    drop.content_length = unusual_length(resp);
    if (drop.content_length) append_length(t, resp.content_length);
    switch (rw.connection) {
    case ResponseRewrite::Conn::Close: t.append("Connection: close\r\n"); break;
    case ResponseRewrite::Conn::KeepAlive: t.append("Connection: keep-alive\r\n"); break;
    case ResponseRewrite::Conn::UpgradeWebSocket: t.append(kUpgradeWebSocket); break;
    case ResponseRewrite::Conn::None: break;
    }
    t.append(rw.extra_fields);
    t.append(rw.sticky_fields);
    t.append("\r\n");
    // haven speaks HTTP/1.1 whatever the server's version (RFC 9110 §6.2).
    if (raw.starts_with("HTTP/1.1 ")) {
        out.add_run(raw.data(), raw.data() + resp.status_line_size);
    } else {
        out.add("HTTP/1.1");
        out.add_run(raw.data() + 8, raw.data() + resp.status_line_size);
    }
    add_fields(resp, out, drop);
    out.add(t);
}

} // namespace haven::http
