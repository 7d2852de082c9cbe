#include "policy/jwt/token_cache.hpp"

#include <bit>
#include <functional>

namespace haven::policy::jwt {
namespace {

void assign(CachedToken& e, std::string_view token, std::uint64_t hash, Verified&& v, std::uint64_t use) {
    e.hash = hash;
    e.last_use = use;
    e.times = v.times;
    e.token.assign(token.data(), token.size()); // reuses the old token's memory when it fits
    e.claims.resize(v.claims.size());
    for (std::size_t i = 0; i < v.claims.size(); ++i) e.claims[i].assign(v.claims[i]);
}

} // namespace

void TokenCache::reset(std::size_t capacity) {
    slots_.clear();
    size_.store(0, std::memory_order_relaxed);
    clock_ = 0;
    set_mask_ = 0;
    if (capacity == 0) return;
    const std::size_t sets = std::bit_ceil((capacity + kWays - 1) / kWays);
    slots_.resize(sets * kWays);
    set_mask_ = sets - 1;
}

const CachedToken* TokenCache::find(std::string_view token, std::uint64_t hash) {
    if (slots_.empty()) return nullptr;
    CachedToken* set = &slots_[(hash & set_mask_) * kWays];
    for (std::size_t i = 0; i < kWays; ++i) {
        CachedToken& e = set[i];
        if (e.last_use != 0 && e.hash == hash && e.token == token) {
            e.last_use = ++clock_;
            return &e;
        }
    }
    return nullptr;
}

const CachedToken& TokenCache::insert(std::string_view token, std::uint64_t hash, Verified&& v, std::int64_t now) {
    if (slots_.empty()) {
        assign(scratch_, token, hash, std::move(v), 1);
        return scratch_;
    }
    CachedToken* set = &slots_[(hash & set_mask_) * kWays];
    // Rules: an empty way; else one whose exp has passed; else the least recently used. (The
    // caller inserts only after find() missed, on the same thread: the token is not there.)
    CachedToken* victim = nullptr;
    for (std::size_t i = 0; i < kWays && !victim; ++i) {
        if (set[i].last_use == 0) victim = &set[i];
    }
    for (std::size_t i = 0; i < kWays && !victim; ++i) {
        if (set[i].times.exp != kNoTime && set[i].times.exp <= now) victim = &set[i];
    }
    if (!victim) {
        victim = &set[0];
        for (std::size_t i = 1; i < kWays; ++i) {
            if (set[i].last_use < victim->last_use) victim = &set[i];
        }
    }
    if (victim->last_use == 0) size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    assign(*victim, token, hash, std::move(v), ++clock_);
    return *victim;
}

void TokenCache::erase(const CachedToken* entry) {
    const std::less<const CachedToken*> before;
    if (slots_.empty() || before(entry, slots_.data()) || !before(entry, slots_.data() + slots_.size())) return;
    CachedToken& e = slots_[static_cast<std::size_t>(entry - slots_.data())];
    if (e.last_use == 0) return;
    e.last_use = 0;
    size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

} // namespace haven::policy::jwt
