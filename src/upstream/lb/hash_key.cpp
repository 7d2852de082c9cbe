// hash_key(): the 64-bit hash that hashing balancers use to place a request key (client address,
// header or cookie value, path) on the Maglev table.
//
// Our own design, built from well-studied parts: the key is absorbed eight bytes at a time by an
// xor-multiply-xorshift step (each step is a bijection of the state for a fixed word and injective
// in the word for a fixed state, so two keys of equal length that differ in one word never collide
// before the finaliser), then the state goes through the splitmix64 finaliser (Steele, Lea &
// Flood, 2014; the same mixer seeds FastRandom in core/random.cpp), which gives full avalanche.
// Eight bytes per multiply: a 15-byte key hashes in about 2.5 ns and long keys at about 8 GB/s
// (bench/lb_bench.cpp), several times faster than byte-at-a-time FNV-1a.
//
// Not keyed: a client who controls the key can choose which server it lands on, which it could
// do anyway by trying keys; the table lookup itself has no worst case to attack. Words are read
// in host byte order, so values are stable on one architecture only (they never leave the
// process).
#include "upstream/lb/load_balancer.hpp"

#include <cstdint>
#include <cstring>
#include <string_view>

namespace haven::upstream {
namespace {

constexpr std::uint64_t kSeed = 0x6a09e667f3bcc909ULL;   // fractional bits of sqrt(2)
constexpr std::uint64_t kAbsorb = 0x9e3779b97f4a7c15ULL; // odd: multiplication is a bijection

std::uint64_t absorb(std::uint64_t state, std::uint64_t word) {
    const std::uint64_t x = (state ^ word) * kAbsorb;
    // A product's low bits depend only on low input bits; folding the high half down lets the
    // next word's multiplication spread every input bit.
    return x ^ (x >> 32);
}

std::uint64_t load64(const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

std::uint64_t load32(const char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

std::uint64_t finalise(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

} // namespace

std::uint64_t hash_key(std::string_view key) {
    const char* const begin = key.data();
    const std::size_t size = key.size();
    // The length goes in first; with it fixed, the tail reads below are injective even though
    // they overlap, and keys differing only by trailing zero bytes still differ.
    std::uint64_t state = kSeed ^ (static_cast<std::uint64_t>(size) * kAbsorb);
    const char* p = begin;
    for (std::size_t left = size; left >= 8; p += 8, left -= 8) state = absorb(state, load64(p));
    const std::size_t tail = size % 8;
    if (tail == 0) return finalise(state);
    // Fixed-size loads instead of a variable-length copy (a library call costing more than the
    // whole hash of a short key): the last 8 bytes when there are that many, else two 4-byte
    // or three 1-byte reads that together cover every byte.
    std::uint64_t word;
    if (size >= 8) {
        word = load64(begin + size - 8);
    } else if (size >= 4) {
        word = load32(begin) | (static_cast<std::uint64_t>(load32(begin + size - 4)) << 32);
    } else {
        word = static_cast<unsigned char>(begin[0]) |
               (static_cast<std::uint64_t>(static_cast<unsigned char>(begin[size / 2])) << 8) |
               (static_cast<std::uint64_t>(static_cast<unsigned char>(begin[size - 1])) << 16);
    }
    return finalise(absorb(state, word));
}

} // namespace haven::upstream
