// Injectable randomness: jitter, random load-balancing choices and request ids draw from a Random&
// so tests can use fixed sequences (tests/support/fake_random.hpp).
#pragma once

#include <cstdint>

namespace haven {

class Random {
public:
    virtual ~Random() = default;
    virtual std::uint64_t next_u64() = 0;

    // Uniform in [0, n); n == 0 yields 0. Lemire's multiply-shift: no division, negligible bias
    // for the small n used here (pool sizes, jitter steps).
    std::uint64_t below(std::uint64_t n) {
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next_u64()) * n) >> 64);
    }
    // Uniform in [0, 1).
    double uniform01() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
};

// xoshiro256** — fast, good statistical quality, not cryptographic.
class FastRandom final : public Random {
public:
    explicit FastRandom(std::uint64_t seed);
    // Seeded from the operating system's entropy (std::random_device).
    static FastRandom from_entropy();
    std::uint64_t next_u64() override;

private:
    std::uint64_t s_[4];
};

} // namespace haven
