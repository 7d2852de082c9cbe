#include "dns/rrl.hpp"

#include "config/dns_values.hpp"

#include <algorithm>
#include <cstring>

namespace haven::dns {
namespace {

constexpr std::int64_t kScale = 1'000'000;  // token fractions: one response is kScale
constexpr std::size_t kProbe = 4;           // slots a subnet may occupy

bool in_range(const std::uint8_t* a, const std::uint8_t* b, std::uint32_t prefix) {
    const std::size_t full = prefix / 8;
    if (std::memcmp(a, b, full) != 0) return false;
    const unsigned bits = prefix % 8;
    if (bits == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - bits));
    return (a[full] & mask) == (b[full] & mask);
}

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

} // namespace

RateLimiter::RateLimiter(const config::DnsRrl& p)
    : rate_(p.responses_per_second), slip_(p.slip), v4_prefix_(p.ipv4_prefix), v6_prefix_(p.ipv6_prefix) {
    for (const auto& text : p.exempt) {
        if (const auto c = config::dns_text::parse_cidr(text)) exempt_.push_back(Range{c->v6, c->bytes, c->prefix});
    }
    if (rate_ == 0) return;
    std::size_t size = 1;
    while (size < p.max_subnets) size <<= 1;
    table_.resize(size);
}

bool RateLimiter::exempt(bool v6, const std::uint8_t* address) const {
    for (const auto& r : exempt_) {
        if (r.v6 == v6 && in_range(r.bytes.data(), address, r.prefix)) return true;
    }
    return false;
}

RateLimiter::Entry& RateLimiter::slot(std::uint64_t hi, std::uint64_t lo, std::int64_t now_ns) {
    const std::size_t mask = table_.size() - 1;
    const std::size_t home = mix(hi ^ mix(lo)) & mask;
    // The subnet's slot, else a free one, else the least recently seen.
    Entry* victim = nullptr;
    for (std::size_t i = 0; i < kProbe; ++i) {
        Entry& e = table_[(home + i) & mask];
        if (e.used && e.hi == hi && e.lo == lo) return e;
        if (!victim || (victim->used && (!e.used || e.last_ns < victim->last_ns))) victim = &e;
    }
    if (!victim->used) ++tracked_;
    // A new subnet starts with a full bucket.
    *victim = Entry{hi, lo, now_ns, rate_ * kScale, 0, true};
    return *victim;
}

RrlVerdict RateLimiter::check(bool v6, const std::uint8_t* address, TimePoint now) {
    if (rate_ == 0 || exempt(v6, address)) return RrlVerdict::Send;
    std::array<std::uint8_t, 16> masked{};
    const std::uint32_t prefix = v6 ? v6_prefix_ : v4_prefix_;
    std::memcpy(masked.data(), address, v6 ? 16 : 4);
    for (std::size_t bit = prefix; bit < (v6 ? 128u : 32u); ++bit) masked[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
    std::uint64_t hi = 0, lo = 0;
    std::memcpy(&hi, masked.data(), 8);
    std::memcpy(&lo, masked.data() + 8, 8);
    hi ^= v6 ? 0x8000000000000000ULL : 0; // the family, so that ::/56 and 0.0.0.0/24 differ
    const std::int64_t now_ns = now.time_since_epoch().count();
    Entry& e = slot(hi, lo, now_ns);
    // Refill at rate_ responses per second, up to one second's worth.
    const std::int64_t elapsed = std::max<std::int64_t>(0, now_ns - e.last_ns);
    const std::int64_t cap = rate_ * kScale;
    const std::int64_t refill = elapsed >= 1'000'000'000 ? cap : elapsed * rate_ / (1'000'000'000 / kScale);
    e.tokens = std::min(cap, e.tokens + refill);
    e.last_ns = now_ns;
    if (e.tokens >= kScale) {
        e.tokens -= kScale;
        return RrlVerdict::Send;
    }
    ++e.limited;
    return slip_ != 0 && e.limited % slip_ == 0 ? RrlVerdict::Slip : RrlVerdict::Drop;
}

} // namespace haven::dns
