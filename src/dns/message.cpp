// The DNS wire format: query parsing and response writing (see message.hpp). Every read is
// bounds-checked against the packet; a packet that breaks a rule is FORMERR or dropped, never
// read past its end.
#include "dns/message.hpp"

#include <algorithm>
#include <cstring>

namespace haven::dns {
namespace {

std::uint16_t rd16(std::span<const std::uint8_t> p, std::size_t at) {
    return static_cast<std::uint16_t>((p[at] << 8) | p[at + 1]);
}

std::uint32_t rd32(std::span<const std::uint8_t> p, std::size_t at) {
    return (static_cast<std::uint32_t>(rd16(p, at)) << 16) | rd16(p, at + 2);
}

std::uint8_t lower(std::uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c + 32) : c; }

// Rules: labels of 1..63 bytes (the two label types 0x40 and 0x80 are reserved), at most 255
// bytes in all, and no compression pointer: the question is the first name of a message, so a
// pointer could only point into the header.
bool read_question(std::span<const std::uint8_t> p, std::size_t& pos, Query& q) {
    std::size_t n = 0;
    for (;;) {
        if (pos >= p.size()) return false;
        const std::uint8_t len = p[pos];
        if (len > 63) return false;
        if (n + 1 + len > kMaxName || pos + 1 + len > p.size()) return false;
        q.qname_raw[n] = len;
        q.qname[n] = len;
        for (std::size_t i = 1; i <= len; ++i) {
            q.qname_raw[n + i] = p[pos + i];
            q.qname[n + i] = lower(p[pos + i]);
        }
        n += 1 + len;
        pos += 1 + len;
        if (len == 0) break;
    }
    if (pos + 4 > p.size()) return false;
    q.qname_len = static_cast<std::uint8_t>(n);
    q.qtype = rd16(p, pos);
    q.qclass = rd16(p, pos + 2);
    pos += 4;
    q.has_question = true;
    return true;
}

// Steps over a name that may end in a compression pointer (only the additional section's
// records are skipped, and only their length matters).
bool skip_name(std::span<const std::uint8_t> p, std::size_t& pos) {
    for (std::size_t labels = 0; labels < 128; ++labels) {
        if (pos >= p.size()) return false;
        const std::uint8_t len = p[pos];
        if ((len & 0xC0) == 0xC0) {
            pos += 2;
            return pos <= p.size();
        }
        if (len > 63) return false;
        pos += 1 + len;
        if (len == 0) return pos <= p.size();
    }
    return false;
}

// RFC 7871 section 6: FAMILY 1 or 2, SOURCE PREFIX-LENGTH within it, ADDRESS exactly as long
// as the prefix needs, and no bit set beyond the prefix.
bool read_ecs(std::span<const std::uint8_t> o, ClientSubnet& ecs) {
    if (o.size() < 4) return false;
    ecs.family = rd16(o, 0);
    ecs.source_prefix = o[2];
    const std::size_t max = ecs.family == 1 ? 32 : ecs.family == 2 ? 128 : 0;
    if (max == 0 || ecs.source_prefix > max) return false;
    const std::size_t bytes = (ecs.source_prefix + 7u) / 8u;
    if (o.size() - 4 != bytes) return false;
    ecs.address = {};
    for (std::size_t i = 0; i < bytes; ++i) ecs.address[i] = o[4 + i];
    if (const unsigned spare = bytes * 8 - ecs.source_prefix; spare > 0) {
        if ((ecs.address[bytes - 1] & ((1u << spare) - 1)) != 0) return false;
    }
    ecs.present = true;
    return true;
}

// `at`: the OPT record's TYPE field (CLASS is the payload size, TTL the version and flags).
ParseStatus read_opt(std::span<const std::uint8_t> p, std::size_t at, std::uint16_t rdlen, Query& q) {
    q.edns = true;
    q.udp_payload = std::max<std::uint16_t>(rd16(p, at + 2), 512);
    const std::uint32_t ttl = rd32(p, at + 4);
    q.edns_version = static_cast<std::uint8_t>(ttl >> 16);
    q.dnssec_ok = (ttl & 0x8000) != 0;
    std::size_t pos = at + 10;
    const std::size_t end = pos + rdlen;
    while (pos < end) {
        if (pos + 4 > end) return ParseStatus::FormErr;
        const std::uint16_t code = rd16(p, pos);
        const std::uint16_t len = rd16(p, pos + 2);
        pos += 4;
        if (pos + len > end) return ParseStatus::FormErr;
        if (code == kEcsOption && (q.ecs.present || !read_ecs(p.subspan(pos, len), q.ecs))) return ParseStatus::FormErr;
        pos += len;
    }
    return q.edns_version > 0 ? ParseStatus::BadVers : ParseStatus::Ok;
}

// The additional section: at most one OPT record, owned by the root; other records (a TSIG
// haven cannot verify, say) are skipped.
ParseStatus read_additional(std::span<const std::uint8_t> p, std::size_t pos, std::uint16_t count, Query& q) {
    ParseStatus status = ParseStatus::Ok;
    for (std::uint16_t i = 0; i < count; ++i) {
        const std::size_t start = pos;
        if (!skip_name(p, pos) || pos + 10 > p.size()) return ParseStatus::FormErr;
        const std::uint16_t type = rd16(p, pos);
        const std::uint16_t rdlen = rd16(p, pos + 8);
        if (pos + 10 + rdlen > p.size()) return ParseStatus::FormErr;
        if (type == rr::OPT) {
            if (q.edns || pos != start + 1 || p[start] != 0) return ParseStatus::FormErr;
            status = read_opt(p, pos, rdlen, q);
            if (status == ParseStatus::FormErr) return status;
        }
        pos += 10 + rdlen;
    }
    return status;
}

} // namespace

ParseStatus parse_query(std::span<const std::uint8_t> p, Query& q) {
    if (p.size() < kHeaderSize) return ParseStatus::Drop;
    q.has_question = false;
    q.qname_len = 0;
    q.edns = false;
    q.udp_payload = 512;
    q.edns_version = 0;
    q.dnssec_ok = false;
    q.ecs.present = false;
    q.id = rd16(p, 0);
    q.flags = rd16(p, 2);
    if (q.flags & flag::QR) return ParseStatus::Drop;
    q.opcode = static_cast<std::uint8_t>((q.flags >> 11) & 0x0F);
    const std::uint16_t qd = rd16(p, 4), an = rd16(p, 6), ns = rd16(p, 8), ar = rd16(p, 10);
    std::size_t pos = kHeaderSize;
    if (q.opcode != 0) {
        if (qd == 1) read_question(p, pos, q);
        return ParseStatus::NotImp;
    }
    if (qd != 1 || !read_question(p, pos, q)) return ParseStatus::FormErr;
    // A query carries no answer or authority records (RFC 1035 4.1.1); NSD and Knot refuse those too.
    if (an != 0 || ns != 0) return ParseStatus::FormErr;
    return read_additional(p, pos, ar, q);
}

bool Writer::room(std::size_t n) {
    if (overflow_ || len_ + n > limit_) {
        overflow_ = true;
        return false;
    }
    return true;
}

void Writer::u8(std::uint8_t v) {
    if (room(1)) buf_[len_++] = v;
}

void Writer::u16(std::uint16_t v) {
    if (!room(2)) return;
    buf_[len_] = static_cast<std::uint8_t>(v >> 8);
    buf_[len_ + 1] = static_cast<std::uint8_t>(v);
    len_ += 2;
}

// Checked as a whole: two u16 writes could leave the first half written when only it fits.
void Writer::u32(std::uint32_t v) {
    if (!room(4)) return;
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
}

void Writer::bytes(std::string_view b) {
    if (!room(b.size())) return;
    if (!b.empty()) std::memcpy(buf_ + len_, b.data(), b.size());
    len_ += b.size();
}

void Writer::patch_u16(std::size_t at, std::uint16_t v) {
    buf_[at] = static_cast<std::uint8_t>(v >> 8);
    buf_[at + 1] = static_cast<std::uint8_t>(v);
}

void Writer::remember(std::string_view suffix, std::size_t offset) {
    // Pointers hold 14 bits of offset; later suffixes simply are not compressed against.
    if (entries_ == kMaxEntries || offset > 0x3FFF) return;
    table_[entries_++] = Entry{suffix.data(), static_cast<std::uint16_t>(suffix.size()), static_cast<std::uint16_t>(offset)};
}

void Writer::name(std::string_view lower, std::string_view raw, bool compress) {
    if (raw.size() != lower.size()) raw = lower;
    // The longest suffix written before (the first match walking from the full name is it).
    std::size_t cut = lower.size();
    std::uint16_t target = 0;
    for (std::size_t pos = 0; compress && pos < lower.size() && lower[pos] != 0;
         pos += 1 + static_cast<std::uint8_t>(lower[pos])) {
        const std::string_view suffix = lower.substr(pos);
        for (std::size_t i = 0; i < entries_ && cut == lower.size(); ++i) {
            const Entry& e = table_[i];
            if (e.len == suffix.size() && std::memcmp(e.suffix, suffix.data(), e.len) == 0) {
                cut = pos;
                target = e.offset;
            }
        }
        if (cut != lower.size()) break;
    }
    const bool pointer = cut != lower.size();
    if (!room(pointer ? cut + 2 : lower.size())) return;
    const std::size_t start = len_;
    for (std::size_t pos = 0; pos < cut && lower[pos] != 0; pos += 1 + static_cast<std::uint8_t>(lower[pos])) {
        remember(lower.substr(pos), start + pos);
    }
    std::memcpy(buf_ + len_, raw.data(), pointer ? cut : lower.size());
    len_ += pointer ? cut : lower.size();
    if (pointer) u16(static_cast<std::uint16_t>(0xC000 | target));
}

std::string to_wire(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    std::size_t start = 0;
    while (start < text.size()) {
        auto dot = text.find('.', start);
        if (dot == std::string_view::npos) dot = text.size();
        out.push_back(static_cast<char>(dot - start));
        out.append(text.substr(start, dot - start));
        start = dot + 1;
    }
    out.push_back('\0');
    return out;
}

std::string to_text(std::string_view wire) {
    std::string out;
    for (std::size_t pos = 0; pos < wire.size() && wire[pos] != 0; pos += 1 + static_cast<std::uint8_t>(wire[pos])) {
        if (!out.empty()) out.push_back('.');
        out.append(wire.substr(pos + 1, static_cast<std::uint8_t>(wire[pos])));
    }
    return out.empty() ? "." : out;
}

} // namespace haven::dns
