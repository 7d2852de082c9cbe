#include "policy/jwt/base64url.hpp"

#include <array>
#include <cstdint>

namespace haven::policy::jwt {
namespace {

constexpr std::uint8_t kBad = 0xff;

constexpr std::array<std::uint8_t, 256> make_table() {
    std::array<std::uint8_t, 256> t{};
    for (auto& v : t) v = kBad;
    for (int i = 0; i < 26; ++i) {
        t['A' + i] = static_cast<std::uint8_t>(i);
        t['a' + i] = static_cast<std::uint8_t>(26 + i);
    }
    for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<std::uint8_t>(52 + i);
    t['-'] = 62;
    t['_'] = 63;
    return t;
}

constexpr auto kTable = make_table();

} // namespace

std::size_t base64url_decoded_size(std::size_t n) {
    // Rules: 4 characters carry 3 bytes; a tail of 2 or 3 characters carries 1 or 2; a tail of
    // one character carries 6 bits, less than a byte, and is never produced by an encoder.
    if (n % 4 == 1) return SIZE_MAX;
    return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

bool base64url_decode(std::string_view in, std::string& out) {
    if (base64url_decoded_size(in.size()) == SIZE_MAX) return false;
    out.reserve(out.size() + base64url_decoded_size(in.size()));
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : in) {
        const std::uint8_t v = kTable[static_cast<unsigned char>(c)];
        if (v == kBad) return false;
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // The bits left over are padding: canonical text has them zero.
    return (acc & ((1u << bits) - 1)) == 0;
}

} // namespace haven::policy::jwt
