// Character classes and scanning primitives of HTTP/1.1 syntax (RFC 9110 §5.6, RFC 3986 §2-3),
// shared by the message parser and the chunked decoder. Internal to src/http.
//
// Classes live in one constexpr 256-entry table of bit flags so every test is a load and an AND,
// with no locale and no branches on ranges.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace haven::http::syntax {

enum : std::uint8_t {
    kTchar = 1 << 0,   // token character (RFC 9110 §5.6.2)
    kCtl = 1 << 1,     // 0x00-0x1F and DEL: ends every scan of field values
    kHex = 1 << 2,     // HEXDIG
    kUriPlain = 1 << 3, // request-target octets needing no further look (not % ? [ ] SP)
    kRegName = 1 << 4, // reg-name octets other than pct-encoded: unreserved / sub-delims
    kQdtext = 1 << 5,  // qdtext (RFC 9110 §5.6.4)
    kDigit = 1 << 6,
};

namespace table_builder {
constexpr bool one_of(int c, const char* set) {
    for (; *set != '\0'; ++set) {
        if (static_cast<unsigned char>(*set) == c) return true;
    }
    return false;
}

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        const bool digit = c >= '0' && c <= '9';
        const bool unreserved = alpha || digit || one_of(c, "-._~");
        const bool sub_delim = one_of(c, "!$&'()*+,;=");
        std::uint8_t f = 0;
        if (alpha || digit || one_of(c, "!#$%&'*+-.^_`|~")) f |= kTchar;
        if (c < 0x20 || c == 0x7F) f |= kCtl;
        if (digit || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')) f |= kHex;
        if (unreserved || sub_delim || one_of(c, ":@/")) f |= kUriPlain;
        if (unreserved || sub_delim) f |= kRegName;
        if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E) || c >= 0x80) {
            f |= kQdtext;
        }
        if (digit) f |= kDigit;
        t[static_cast<std::size_t>(c)] = f;
    }
    return t;
}
} // namespace table_builder

inline constexpr std::array<std::uint8_t, 256> kClass = table_builder::make_classes();

inline bool has(char c, std::uint8_t flag) { return (kClass[static_cast<unsigned char>(c)] & flag) != 0; }
inline bool is_tchar(char c) { return has(c, kTchar); }
inline bool is_hex(char c) { return has(c, kHex); }
inline bool is_digit(char c) { return has(c, kDigit); }
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

inline unsigned hex_value(char c) {
    const unsigned u = static_cast<unsigned char>(c);
    return u <= '9' ? u - '0' : (u | 0x20) - 'a' + 10;
}

// The first byte in [p, e) that is a control character or DEL (HTAB, CR and LF included), or e.
// Field values, reasons and whole heads are scanned with this, 16 bytes at a time where SSE2 is
// available (always on x86-64): it is where the parser spends most of its time.
inline const char* find_ctl(const char* p, const char* e) {
#if defined(__SSE2__)
    const __m128i k1f = _mm_set1_epi8(0x1F);
    const __m128i k7f = _mm_set1_epi8(0x7F);
    while (e - p >= 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, k1f), x); // unsigned x <= 0x1F
        const __m128i del = _mm_cmpeq_epi8(x, k7f);
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(ctl, del)));
        if (mask != 0) return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    while (p < e && !has(*p, kCtl)) ++p;
    return p;
}

#if defined(__SSE2__)
namespace sse {
// Byte lanes with lo <= x <= lo + width (unsigned).
inline __m128i in_range(__m128i x, unsigned char lo, unsigned char width) {
    const __m128i t = _mm_sub_epi8(x, _mm_set1_epi8(static_cast<char>(lo)));
    return _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(static_cast<char>(width))), t);
}
inline __m128i eq(__m128i x, char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); }
inline __m128i either(__m128i a, __m128i b) { return _mm_or_si128(a, b); }
} // namespace sse
#endif

// The first byte in [p, e) that is not a tchar, or e. Field names end at their colon, found
// this way without a byte loop (whose exit branch mispredicts on every name of a new length).
inline const char* find_non_tchar(const char* p, const char* e) {
#if defined(__SSE2__)
    using namespace sse;
    while (e - p >= 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // CTL, SP, DEL, non-ASCII and the delimiters "(),/:;<=>?@[\]{}
        const __m128i bad = either(either(either(in_range(x, 0x7F, 0x80), in_range(x, 0x00, 0x20)),
                                          either(eq(x, '"'), in_range(x, '(', 1))),
                                   either(either(either(eq(x, ','), eq(x, '/')), either(in_range(x, ':', 6), in_range(x, '[', 2))),
                                          either(eq(x, '{'), eq(x, '}'))));
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(bad));
        if (mask != 0) return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    while (p < e && is_tchar(*p)) ++p;
    return p;
}

// The first byte in [p, e) outside kUriPlain, or e: the request-target is scanned in runs
// between its special bytes ('%', '?', '[', ']', the closing SP) and the invalid ones.
inline const char* find_uri_special(const char* p, const char* e) {
#if defined(__SSE2__)
    using namespace sse;
    while (e - p >= 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // CTL, SP, DEL, non-ASCII and "#%<>?[\]^`{|}
        const __m128i special = either(either(either(in_range(x, 0x7F, 0x80), in_range(x, 0x00, 0x20)),
                                              either(in_range(x, '"', 1), eq(x, '%'))),
                                       either(either(either(eq(x, '<'), in_range(x, '>', 1)), in_range(x, '[', 3)),
                                              either(eq(x, '`'), in_range(x, '{', 2))));
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
        if (mask != 0) return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    while (p < e && has(*p, kUriPlain)) ++p;
    return p;
}

inline const char* skip_ows(const char* p, const char* e) {
    while (p < e && is_ows(*p)) ++p;
    return p;
}

inline std::string_view trim_ows(std::string_view s) {
    std::size_t b = 0;
    std::size_t e = s.size();
    while (b < e && is_ows(s[b])) ++b;
    while (e > b && is_ows(s[e - 1])) --e;
    return s.substr(b, e - b);
}

// Case-insensitive comparison against a literal of lowercase letters and octets 0x21-0x3F
// ("content-length", "100-continue", "http://"). OR-ing 0x20 folds ASCII letters; the only other
// octets that fold onto such a literal are control characters, which every caller has already
// rejected. Eight bytes at a time: field names are compared on every field line.
template <std::size_t N>
inline bool token_is(const char* p, const char (&lit)[N]) {
    constexpr std::size_t n = N - 1;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t a = 0;
        std::uint64_t b = 0;
        std::memcpy(&a, p + i, 8);
        std::memcpy(&b, lit + i, 8);
        if ((a | 0x2020202020202020ULL) != b) return false;
    }
    for (; i < n; ++i) {
        if ((static_cast<unsigned char>(p[i]) | 0x20U) != static_cast<unsigned char>(lit[i])) return false;
    }
    return true;
}

template <std::size_t N>
inline bool token_is(std::string_view s, const char (&lit)[N]) {
    return s.size() == N - 1 && token_is(s.data(), lit);
}

// ASCII case-insensitive equality of two tokens of any spelling.
inline bool tokens_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        unsigned x = static_cast<unsigned char>(a[i]);
        unsigned y = static_cast<unsigned char>(b[i]);
        if (x - 'A' < 26U) x |= 0x20U;
        if (y - 'A' < 26U) y |= 0x20U;
        if (x != y) return false;
    }
    return true;
}

} // namespace haven::http::syntax
