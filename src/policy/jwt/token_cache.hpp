// TokenCache: the tokens one worker has verified for one route, so that a token seen again
// costs a hash, a comparison of its bytes and the time checks — no decoding, no JSON, no
// signature. One cache per worker thread (only that thread touches it: no lock, no atomic).
//
// Bounded: a fixed number of entries in 4-way sets, indexed by a 64-bit hash of the token; a
// lookup compares the whole token, so a hash collision is only a miss. A new entry takes an
// empty way of its set, else an expired one, else the least recently used. Only tokens whose
// signature, issuer and audience verified are kept: garbage cannot push good tokens out, and
// each entry is known good until its `exp` (checked again on every hit by the caller).
// Replacing an entry reuses its strings' memory, so a warm cache does not allocate.
#pragma once

#include "policy/jwt/jwt_verifier.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace haven::policy::jwt {

struct CachedToken {
    std::uint64_t hash = 0;
    std::uint64_t last_use = 0; // 0: empty
    TokenTimes times;
    std::string token;
    std::vector<std::string> claims; // Settings::claims order
};

class TokenCache {
public:
    static constexpr std::size_t kWays = 4;

    // `capacity` entries (rounded up to whole sets of a power-of-two count); 0: nothing is kept
    // (insert() still returns the entry, valid until the next insert).
    void reset(std::size_t capacity);
    std::size_t capacity() const { return slots_.size(); }
    std::size_t size() const { return size_.load(std::memory_order_relaxed); } // any thread

    // The entry for `token` (`hash` is hash_key(token)), or null. Marks it recently used.
    const CachedToken* find(std::string_view token, std::uint64_t hash);
    // Keeps `v` for `token`. The reference is valid until the next insert or erase.
    const CachedToken& insert(std::string_view token, std::uint64_t hash, Verified&& v, std::int64_t now);
    // Forgets an entry find() returned (an expired token).
    void erase(const CachedToken* entry);

private:
    std::vector<CachedToken> slots_;
    std::size_t set_mask_ = 0;
    std::uint64_t clock_ = 0;
    std::atomic<std::size_t> size_{0}; // written by the owning worker only
    CachedToken scratch_; // the entry when nothing is kept
};

} // namespace haven::policy::jwt
