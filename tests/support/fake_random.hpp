// A Random that returns a fixed, repeating sequence (or a constant), for deterministic tests.
#pragma once

#include "core/random.hpp"

#include <cstdint>
#include <utility>
#include <vector>

namespace haven::test {

class FakeRandom final : public Random {
public:
    explicit FakeRandom(std::vector<std::uint64_t> values = {0}) : values_(std::move(values)) {}
    std::uint64_t next_u64() override {
        const auto v = values_[pos_ % values_.size()];
        ++pos_;
        return v;
    }
    // A value v such that below(n) == k, for steering choices in tests.
    static std::uint64_t for_below(std::uint64_t k, std::uint64_t n) {
        // below(n) = (v * n) >> 64; pick v in the middle of bucket k.
        const unsigned __int128 span = (static_cast<unsigned __int128>(1) << 64) / n;
        return static_cast<std::uint64_t>(span * k + span / 2);
    }

private:
    std::vector<std::uint64_t> values_;
    std::size_t pos_ = 0;
};

} // namespace haven::test
