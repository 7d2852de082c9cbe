// src/dns: haven's authoritative DNS server (docs/dns.md). It answers for the zones in `dns:`
// over UDP and TCP on its own thread (server.hpp), from an immutable snapshot of the zones
// (zone_data.hpp) and of what the health checks say (health_view.hpp), which the control thread
// rebuilds and publishes when a region, pool or server changes state; regions.hpp runs the
// regions' checks on the control thread.
//
// This file is the wire format (RFC 1035, EDNS0 RFC 6891, Client Subnet RFC 7871): parsing a
// query and writing a response with name compression. It is haven's own code rather than
// libldns: bench/dns_codec_bench.cpp measures the two on the same query (bench/RESULTS.md has the
// figures), fuzz/dns_fuzz.cpp fuzzes it, and the unit tests decode what it writes with libldns.
// Nothing here allocates: a query is parsed into fixed arrays, a response written into the
// caller's buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace haven::dns {

namespace rr {
inline constexpr std::uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, HINFO = 13, MX = 15, TXT = 16, AAAA = 28,
                               SRV = 33, OPT = 41, IXFR = 251, AXFR = 252, ANY = 255;
inline constexpr std::uint16_t ClassIN = 1, ClassANY = 255;
} // namespace rr

// Response codes; BadVers (16) needs EDNS, its upper bits go in the OPT record.
enum class Rcode : std::uint16_t { NoError = 0, FormErr = 1, ServFail = 2, NxDomain = 3, NotImp = 4, Refused = 5, BadVers = 16 };

// Header flag bits (second 16-bit word).
namespace flag {
inline constexpr std::uint16_t QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080, CD = 0x0010;
} // namespace flag

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxName = 255;
inline constexpr std::uint16_t kEcsOption = 8;

// EDNS Client Subnet as the query sent it (validated: prefix within the family, address no
// longer than the prefix, no bits set beyond it).
struct ClientSubnet {
    bool present = false;
    std::uint16_t family = 0; // 1 IPv4, 2 IPv6
    std::uint8_t source_prefix = 0;
    std::array<std::uint8_t, 16> address{};
};

struct Query {
    std::uint16_t id = 0;
    std::uint16_t flags = 0;
    std::uint8_t opcode = 0;
    bool has_question = false;
    // The question name in wire form as sent (case kept, for the echo) and lower-cased (for
    // lookups and compression); qname_len counts the final zero byte.
    std::array<std::uint8_t, kMaxName> qname_raw{};
    std::array<std::uint8_t, kMaxName> qname{};
    std::uint8_t qname_len = 0;
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 0;
    bool edns = false;
    std::uint16_t udp_payload = 512;
    std::uint8_t edns_version = 0;
    bool dnssec_ok = false;
    ClientSubnet ecs;

    std::string_view name() const { return {reinterpret_cast<const char*>(qname.data()), qname_len}; }
    std::string_view raw_name() const { return {reinterpret_cast<const char*>(qname_raw.data()), qname_len}; }
};

// What parse_query made of a packet:
enum class ParseStatus {
    Ok,      // a query to answer
    Drop,    // not worth an answer: shorter than a header, or a response (QR set; answering
             // responses lets two servers bounce packets off each other forever)
    FormErr, // malformed: answer FORMERR (with the question when it was readable)
    NotImp,  // an opcode other than QUERY
    BadVers, // EDNS version above 0
};
ParseStatus parse_query(std::span<const std::uint8_t> packet, Query& q);

// Writes a message into a caller's buffer up to a limit, compressing names (RFC 1035 4.1.4)
// against the names already written. A write past the limit writes nothing and sets
// overflow(); mark()/rewind() drop a partly written record.
class Writer {
public:
    Writer(std::uint8_t* buf, std::size_t capacity) : buf_(buf), limit_(capacity) {}

    void set_limit(std::size_t limit) { limit_ = limit; }
    std::size_t size() const { return len_; }
    bool overflow() const { return overflow_; }
    void clear_overflow() { overflow_ = false; }

    void u8(std::uint8_t v);
    void u16(std::uint16_t v);
    void u32(std::uint32_t v);
    void bytes(std::string_view b);
    void patch_u16(std::size_t at, std::uint16_t v);
    // `lower`: a lower-case wire-form name; `raw`: the same name in the case to write (the
    // question's own), or empty to write `lower`. Both must outlive the writer: compression
    // remembers where each suffix was written.
    void name(std::string_view lower, std::string_view raw = {}, bool compress = true);

    struct Mark {
        std::size_t len;
        std::size_t entries;
    };
    Mark mark() const { return {len_, entries_}; }
    void rewind(Mark m) {
        len_ = m.len;
        entries_ = m.entries;
        overflow_ = false;
    }

private:
    bool room(std::size_t n);
    void remember(std::string_view suffix, std::size_t offset);

    struct Entry {
        const char* suffix;
        std::uint16_t len;
        std::uint16_t offset;
    };
    static constexpr std::size_t kMaxEntries = 64;
    std::uint8_t* buf_;
    std::size_t limit_;
    std::size_t len_ = 0;
    bool overflow_ = false;
    std::array<Entry, kMaxEntries> table_{};
    std::size_t entries_ = 0;
};

// Wire-form names: "\3www\7example\3com\0". `text` is a lower-case absolute name without the
// trailing dot ("" is the root); to_text is for messages and the admin API.
std::string to_wire(std::string_view text);
std::string to_text(std::string_view wire);

} // namespace haven::dns
