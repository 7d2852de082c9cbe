#include "upstream/lb/load_balancer.hpp"

#include "core/random.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <string>
#include <unordered_set>
#include <vector>

namespace haven::upstream {
namespace {

TEST(HashKey, IsDeterministic) {
    EXPECT_EQ(hash_key("203.0.113.7"), hash_key(std::string("203.0.113.7")));
    EXPECT_EQ(hash_key(""), hash_key(""));
}

TEST(HashKey, LengthAndTrailingZerosMatter) {
    using namespace std::string_literals;
    EXPECT_NE(hash_key(""), hash_key("\0"s));
    EXPECT_NE(hash_key("a"), hash_key("a\0"s));
    EXPECT_NE(hash_key("abcdefgh"), hash_key("abcdefgh\0"s));
}

// 200,000 similar keys of lengths 1..30: no 64-bit collision.
TEST(HashKey, DistinctKeysGiveDistinctHashes) {
    std::unordered_set<std::uint64_t> seen;
    for (int i = 0; i < 100'000; ++i) {
        seen.insert(hash_key(std::to_string(i)));
        seen.insert(hash_key("session=" + std::to_string(i) + "/user"));
    }
    EXPECT_EQ(seen.size(), 200'000u);
}

// Chi-square over 256 buckets (255 degrees of freedom: mean 255, sd 22.6); the bound is about
// 5 sd. Checked on the low bits (hash % 256, what a modulo sees) and the high bits.
TEST(HashKey, BucketsAreUniform) {
    constexpr int kBuckets = 256;
    constexpr int kKeys = 100'000;
    std::vector<int> low(kBuckets), high(kBuckets);
    for (int i = 0; i < kKeys; ++i) {
        const auto h = hash_key("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
        ++low[h % kBuckets];
        ++high[h >> 56];
    }
    auto chi2 = [&](const std::vector<int>& b) {
        const double expected = double(kKeys) / kBuckets;
        double sum = 0;
        for (int n : b) sum += (n - expected) * (n - expected) / expected;
        return sum;
    };
    EXPECT_LT(chi2(low), 370.0);
    EXPECT_LT(chi2(high), 370.0);
}

// Avalanche: flipping one input bit flips each output bit with probability about 1/2.
// Tolerance: mean flipped bits in [31, 33]; every output bit's flip rate in [0.45, 0.55].
TEST(HashKey, OneInputBitFlipsHalfTheOutput) {
    FastRandom random(99);
    std::vector<int> per_bit(64);
    long total = 0, trials = 0;
    for (int k = 0; k < 300; ++k) {
        std::string key(1 + random.below(40), '\0');
        for (auto& c : key) c = static_cast<char>(random.below(256));
        const auto base = hash_key(key);
        for (std::size_t bit = 0; bit < key.size() * 8; ++bit) {
            std::string flipped = key;
            flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
            const auto diff = base ^ hash_key(flipped);
            total += std::popcount(diff);
            for (int b = 0; b < 64; ++b) per_bit[b] += (diff >> b) & 1;
            ++trials;
        }
    }
    EXPECT_NEAR(double(total) / trials, 32.0, 1.0);
    for (int b = 0; b < 64; ++b) EXPECT_NEAR(double(per_bit[b]) / trials, 0.5, 0.05) << b;
}

} // namespace
} // namespace haven::upstream
