// Response-rate limiting (RRL) per client subnet, against reflection: a forged source address
// makes haven send answers to a victim, so answers to one subnet (IPv4 /24, IPv6 /56 by default)
// are limited to `responses_per_second`, with a burst of one second's worth. Beyond it most
// responses are dropped, and every `slip`-th one is sent truncated (TC, question only): a real
// client then retries over TCP, which a forged address cannot do, and a victim gets a packet no
// larger than the query. UDP only. BIND and Knot call this RRL with "slip" in the same sense.
//
// Memory is bounded: a table of `max_subnets` entries (rounded up to a power of two); a new
// subnet replaces the least recently seen of the few slots it may hash to. Pure state machine:
// time is a parameter, and it belongs to the DNS thread alone.
#pragma once

#include "config/dns_schema.hpp"
#include "core/clock.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace haven::dns {

enum class RrlVerdict : std::uint8_t {
    Send, // within the rate (or exempt, or RRL off)
    Drop, // over the rate: no response
    Slip, // over the rate, but send the truncated response
};

class RateLimiter {
public:
    explicit RateLimiter(const config::DnsRrl& params);

    // `address`: 16 bytes for IPv6, the first 4 for IPv4.
    RrlVerdict check(bool v6, const std::uint8_t* address, TimePoint now);
    bool enabled() const { return rate_ > 0; }
    // Subnets the table remembers now.
    std::size_t tracked() const { return tracked_; }

private:
    struct Entry {
        std::uint64_t hi = 0;   // family and first 8 bytes of the masked address
        std::uint64_t lo = 0;   // the other 8
        std::int64_t last_ns = 0;
        std::int64_t tokens = 0; // in units of 1/kScale response
        std::uint32_t limited = 0;
        bool used = false;
    };
    struct Range {
        bool v6;
        std::array<std::uint8_t, 16> bytes;
        std::uint32_t prefix;
    };
    bool exempt(bool v6, const std::uint8_t* address) const;
    Entry& slot(std::uint64_t hi, std::uint64_t lo, std::int64_t now_ns);

    std::int64_t rate_;
    std::uint32_t slip_;
    std::uint32_t v4_prefix_;
    std::uint32_t v6_prefix_;
    std::vector<Range> exempt_;
    std::vector<Entry> table_;
    std::size_t tracked_ = 0;
};

} // namespace haven::dns
