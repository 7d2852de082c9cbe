// Incremental validator/decoder for the chunked transfer coding (RFC 9112 §7.1).
//
// The proxy forwards chunked bodies verbatim (no re-encoding, no copy) but must know exactly
// where the body ends and must refuse bad framing: feed() walks the framing over any split of the
// input, reports payload bytes to an optional sink (used to de-chunk for HTTP/1.0 clients and by
// the demo backend to count body bytes), and stops exactly after the last trailer line's CRLF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace haven::http {

enum class ChunkError : std::uint8_t {
    None,
    BadSize,           // chunk-size is not 1*HEXDIG
    SizeOverflow,      // chunk-size does not fit in 62 bits
    BadExtension,      // malformed chunk-ext (RFC 9112 §7.1.1)
    LineTooLong,       // chunk-size line (with extensions) longer than max_line
    BadLineEnd,        // CRLF missing after chunk-data or on a size line (bare CR or LF)
    BadTrailer,        // malformed trailer field line
    TrailerTooLarge,   // trailer section larger than max_trailer
};

std::string_view describe(ChunkError e);

// Called with each run of payload bytes, in order. ctx is passed through.
using PayloadFn = void (*)(void* ctx, std::string_view payload);

class ChunkedDecoder {
public:
    enum class Status : std::uint8_t { NeedMore, Done, Error };
    struct Result {
        std::size_t consumed; // bytes of `data` that belong to this body
        Status status;
    };

    explicit ChunkedDecoder(std::size_t max_line = 4096, std::size_t max_trailer = 32768)
        : max_line_(max_line), max_trailer_(max_trailer) {}

    // Consume as much of `data` as belongs to the body. NeedMore: all of `data` was consumed.
    // Done: the body ended after `consumed` bytes (the rest is the next message). Error: see error().
    Result feed(std::string_view data, PayloadFn sink = nullptr, void* ctx = nullptr);

    ChunkError error() const { return error_; }
    std::uint64_t payload_bytes() const { return payload_; }
    bool done() const { return state_ == State::Done; }
    void reset();

private:
    enum class State : std::uint8_t {
        Size, SizeLF, Ext, Data, DataCR, DataLF, TrailerStart, TrailerLine, TrailerLF, LastLF, Done, Failed,
    };
    bool step(char c);           // one octet of framing; false on error
    bool size_line_byte(char c);
    bool trailer_byte(char c);
    bool fail(ChunkError e);
    std::size_t max_line_;
    std::size_t max_trailer_;
    State state_ = State::Size;
    ChunkError error_ = ChunkError::None;
    std::uint64_t remaining_ = 0;  // payload bytes left in the current chunk (also: size being read)
    std::uint64_t payload_ = 0;    // total payload bytes seen
    std::size_t line_ = 0;         // bytes of the current size line or trailer line so far
    std::size_t trailer_ = 0;      // bytes of the trailer section so far
    std::uint8_t size_digits_ = 0;
    std::uint8_t ext_state_ = 0;   // sub-state inside chunk-ext (owned by chunked.cpp)
};

} // namespace haven::http
