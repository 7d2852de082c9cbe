#include "http/codec.hpp"

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

bool drop_request_field(const RequestHead& req, const Header& h) {
    if (h.hop_by_hop) return true;
    if (h.id == HeaderId::Expect) return true; // haven answers 100-continue itself
    if (req.absolute_form && h.id == HeaderId::Host) return true; // replaced (RFC 9112 §3.2.2)
    return false;
}

void add_fields(const MessageHead& head, HeadBuilder& out, bool (*drop)(const void*, const Header&), const void* ctx) {
    for (const Header& h : head.headers) {
        if (drop(ctx, h)) continue;
        out.add_run(h.name.data(), h.name.data() + h.line_len);
    }
}

} // namespace

void build_request_head(const RequestHead& req, std::string_view raw, const RequestRewrite& rw, HeadBuilder& out) {
    out.clear();
    std::string& t = out.text();
    // Generated text first, so the views taken below stay valid.
    const bool rewrite_line = req.absolute_form || req.version_minor == 0;
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
    t.append("X-Forwarded-For: ").append(rw.client_ip).append("\r\n");
    if (!req.find(HeaderId::XForwardedProto)) t.append("X-Forwarded-Proto: ").append(rw.proto).append("\r\n");
    if (!rw.request_id.empty()) t.append("X-Request-Id: ").append(rw.request_id).append("\r\n");
    t.append("Via: 1.1 haven\r\n\r\n");

    const std::string_view text(t);
    if (rewrite_line) {
        out.add(text.substr(0, line_end));
    } else {
        const char* line = req.method_text.data();
        out.add_run(line, line + req.request_line_size);
    }
    add_fields(req, out, [](const void* r, const Header& h) { return drop_request_field(*static_cast<const RequestHead*>(r), h); }, &req);
    out.add(text.substr(line_end));
    (void)raw;
}

void build_response_head(const ResponseHead& resp, std::string_view raw, const ResponseRewrite& rw, HeadBuilder& out) {
    out.clear();
    // haven speaks HTTP/1.1 whatever the server's minor version (RFC 9110 §6.2).
    if (resp.version_minor == 1) {
        out.add_run(raw.data(), raw.data() + resp.status_line_size);
    } else {
        out.add("HTTP/1.1");
        out.add_run(raw.data() + 8, raw.data() + resp.status_line_size);
    }
    add_fields(resp, out, [](const void* r, const Header& h) {
        return h.hop_by_hop || (static_cast<const ResponseRewrite*>(r)->drop_transfer_encoding && h.id == HeaderId::TransferEncoding);
    }, &rw);
    switch (rw.connection) {
    case ResponseRewrite::Conn::Close: out.add("Connection: close\r\n\r\n"); break;
    case ResponseRewrite::Conn::KeepAlive: out.add("Connection: keep-alive\r\n\r\n"); break;
    case ResponseRewrite::Conn::None: out.add("\r\n"); break;
    }
}

} // namespace haven::http
