// The chunked transfer coding (RFC 9112 §7.1): a byte-at-a-time state machine for the framing
// (size lines, CRLFs, trailer fields) and one sink call per run of chunk-data, so payload bytes
// are never looked at one by one. All state lives in the object: input may be split anywhere.
#include "http/chunked.hpp"

#include "http/syntax.hpp"

#include <algorithm>

namespace haven::http {
namespace {

using namespace syntax;

// chunk-size must fit in 62 bits, like Content-Length: sums of sizes can never overflow.
constexpr std::uint64_t kMaxChunkSize = (std::uint64_t{1} << 62) - 1;

// Where we are inside chunk-ext (RFC 9112 §7.1.1), kept in ext_state_ while state_ == Ext:
//   chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] ), ext-value = token / quoted-string
enum ExtState : std::uint8_t {
    AfterSize,    // after the size or a complete extension: ";", BWS or CR
    WsBeforeSemi, // BWS seen: only more BWS or ";" may follow
    WsBeforeName,
    Name,
    WsAfterName, // BWS after a name: "=" or ";" must follow
    WsBeforeValue,
    Token,
    Quoted,
    QuotedEscape,
};

// Where we are inside a trailer field line, kept in ext_state_ while state_ == TrailerLine.
enum TrailerPart : std::uint8_t { TrailerName, TrailerValue };

enum class ExtStep : std::uint8_t { More, LineEnd, Bad };

ExtStep ext_byte(std::uint8_t& st, char c) {
    const bool ws = is_ows(c);
    auto go = [&st](ExtState next) {
        st = next;
        return ExtStep::More;
    };
    switch (st) {
    case AfterSize:
        if (c == '\r') return ExtStep::LineEnd;
        if (c == ';') return go(WsBeforeName);
        return ws ? go(WsBeforeSemi) : ExtStep::Bad;
    case WsBeforeSemi:
        if (ws) return ExtStep::More;
        return c == ';' ? go(WsBeforeName) : ExtStep::Bad;
    case WsBeforeName:
        if (ws) return ExtStep::More;
        return is_tchar(c) ? go(Name) : ExtStep::Bad;
    case Name:
        if (is_tchar(c)) return ExtStep::More;
        if (c == '\r') return ExtStep::LineEnd;
        if (c == ';') return go(WsBeforeName);
        if (c == '=') return go(WsBeforeValue);
        return ws ? go(WsAfterName) : ExtStep::Bad;
    case WsAfterName:
        if (ws) return ExtStep::More;
        if (c == ';') return go(WsBeforeName);
        return c == '=' ? go(WsBeforeValue) : ExtStep::Bad;
    case WsBeforeValue:
        if (ws) return ExtStep::More;
        if (c == '"') return go(Quoted);
        return is_tchar(c) ? go(Token) : ExtStep::Bad;
    case Token:
        if (is_tchar(c)) return ExtStep::More;
        if (c == '\r') return ExtStep::LineEnd;
        if (c == ';') return go(WsBeforeName);
        return ws ? go(WsBeforeSemi) : ExtStep::Bad;
    case Quoted:
        if (c == '"') return go(AfterSize);
        if (c == '\\') return go(QuotedEscape);
        return has(c, kQdtext) ? ExtStep::More : ExtStep::Bad;
    case QuotedEscape: // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        return c == '\t' || !has(c, kCtl) ? go(Quoted) : ExtStep::Bad;
    default: return ExtStep::Bad;
    }
}

} // namespace

std::string_view describe(ChunkError e) {
    switch (e) {
    case ChunkError::None: return "no error";
    case ChunkError::BadSize: return "invalid chunk size";
    case ChunkError::SizeOverflow: return "chunk size too large";
    case ChunkError::BadExtension: return "invalid chunk extension";
    case ChunkError::LineTooLong: return "chunk size line too long";
    case ChunkError::BadLineEnd: return "missing CRLF in chunked body";
    case ChunkError::BadTrailer: return "invalid trailer field";
    case ChunkError::TrailerTooLarge: return "trailer section too large";
    }
    return "unknown error";
}

void ChunkedDecoder::reset() {
    state_ = State::Size;
    error_ = ChunkError::None;
    remaining_ = 0;
    payload_ = 0;
    line_ = 0;
    trailer_ = 0;
    size_digits_ = 0;
    ext_state_ = 0;
}

bool ChunkedDecoder::fail(ChunkError e) {
    state_ = State::Failed;
    error_ = e;
    return false;
}

ChunkedDecoder::Result ChunkedDecoder::feed(std::string_view data, PayloadFn sink, void* ctx) {
    if (state_ == State::Done) return {0, Status::Done};
    if (state_ == State::Failed) return {0, Status::Error};
    const char* const begin = data.data();
    const char* p = begin;
    const char* const end = begin + data.size();
    while (p < end) {
        if (state_ == State::Data) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, static_cast<std::uint64_t>(end - p)));
            if (sink != nullptr) sink(ctx, std::string_view(p, n));
            p += n;
            payload_ += n;
            remaining_ -= n;
            if (remaining_ == 0) state_ = State::DataCR;
            continue;
        }
        if (!step(*p)) return {static_cast<std::size_t>(p - begin), Status::Error};
        ++p;
        if (state_ == State::Done) return {static_cast<std::size_t>(p - begin), Status::Done};
    }
    return {data.size(), Status::NeedMore};
}

bool ChunkedDecoder::step(char c) {
    switch (state_) {
    case State::Size:
    case State::Ext:
    case State::SizeLF: return size_line_byte(c);
    case State::DataCR:
        if (c != '\r') return fail(ChunkError::BadLineEnd);
        state_ = State::DataLF;
        return true;
    case State::DataLF:
        if (c != '\n') return fail(ChunkError::BadLineEnd);
        state_ = State::Size;
        line_ = 0;
        size_digits_ = 0;
        return true;
    default: return trailer_byte(c);
    }
}

// chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1): HEXDIG only, no sign, no "0x", no padding.
bool ChunkedDecoder::size_line_byte(char c) {
    if (++line_ > max_line_) return fail(ChunkError::LineTooLong);
    if (c == '\n') {
        if (state_ != State::SizeLF) return fail(ChunkError::BadLineEnd);
        state_ = remaining_ == 0 ? State::TrailerStart : State::Data; // size 0 is the last-chunk
        line_ = 0;
        return true;
    }
    if (state_ == State::SizeLF) return fail(ChunkError::BadLineEnd);
    if (state_ == State::Size) {
        if (is_hex(c)) {
            if (remaining_ > (kMaxChunkSize >> 4)) return fail(ChunkError::SizeOverflow);
            remaining_ = (remaining_ << 4) | hex_value(c);
            size_digits_ = 1;
            return true;
        }
        if (size_digits_ == 0 || (c != '\r' && c != ';' && !is_ows(c))) return fail(ChunkError::BadSize);
        state_ = State::Ext;
        ext_state_ = AfterSize;
    }
    switch (ext_byte(ext_state_, c)) {
    case ExtStep::More: return true;
    case ExtStep::LineEnd: state_ = State::SizeLF; return true;
    default: return fail(ChunkError::BadExtension);
    }
}

// trailer-section = *( field-line CRLF ), then the final CRLF (RFC 9112 §7.1.2). Field lines are
// held to the same rules as header lines: token name, colon with no space before it, no CTLs.
bool ChunkedDecoder::trailer_byte(char c) {
    if (++trailer_ > max_trailer_) return fail(ChunkError::TrailerTooLarge);
    switch (state_) {
    case State::TrailerStart:
        if (c == '\r') {
            state_ = State::LastLF;
            return true;
        }
        if (c == '\n') return fail(ChunkError::BadLineEnd);
        if (!is_tchar(c)) return fail(ChunkError::BadTrailer); // includes obs-fold
        state_ = State::TrailerLine;
        ext_state_ = TrailerName;
        return true;
    case State::TrailerLine:
        if (ext_state_ == TrailerName) {
            if (is_tchar(c)) return true;
            if (c != ':') return fail(c == '\n' ? ChunkError::BadLineEnd : ChunkError::BadTrailer);
            ext_state_ = TrailerValue;
            return true;
        }
        if (c == '\r') {
            state_ = State::TrailerLF;
            return true;
        }
        if (c == '\n') return fail(ChunkError::BadLineEnd);
        return c == '\t' || !has(c, kCtl) ? true : fail(ChunkError::BadTrailer);
    case State::TrailerLF:
    case State::LastLF:
        if (c != '\n') return fail(ChunkError::BadLineEnd);
        state_ = state_ == State::LastLF ? State::Done : State::TrailerStart;
        return true;
    default: return fail(ChunkError::BadTrailer);
    }
}

} // namespace haven::http
