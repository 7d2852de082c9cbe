// ChunkedDecoder (RFC 9112 §7.1): tables of valid and invalid bodies, each decoded whole, split
// in two at every byte and fed one byte at a time, which must all agree; plus the contract of
// feed() (exact end, nothing consumed after Done or Error, one sink call for a large chunk).
#include "http/chunked.hpp"

#include "unit/http/parser_test_util.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace haven::http {
namespace {

using namespace std::string_literals;
using Status = ChunkedDecoder::Status;

struct Decoded {
    Status status = Status::NeedMore;
    ChunkError error = ChunkError::None;
    std::size_t consumed = 0; // over all feeds; compared only when Done
    std::string payload;      // compared only when Done
    bool operator==(const Decoded& o) const {
        if (status != o.status || error != o.error) return false;
        return status != Status::Done || (consumed == o.consumed && payload == o.payload);
    }
};

std::ostream& operator<<(std::ostream& os, const Decoded& d) {
    return os << "{status=" << static_cast<int>(d.status) << " error=" << describe(d.error)
              << " consumed=" << d.consumed << " payload=" << d.payload.size() << "B}";
}

void collect(void* ctx, std::string_view payload) { static_cast<std::string*>(ctx)->append(payload); }

// Feeds the pieces in order (each an exact-size copy), stopping at Done or Error.
Decoded decode(const std::vector<std::string_view>& pieces, std::size_t max_line = 4096, std::size_t max_trailer = 32768) {
    ChunkedDecoder d(max_line, max_trailer);
    Decoded out;
    for (std::string_view piece : pieces) {
        const test::Bytes copy(piece);
        const auto r = d.feed(copy.view(), collect, &out.payload);
        out.consumed += r.consumed;
        out.status = r.status;
        if (r.status != Status::NeedMore) break;
        EXPECT_EQ(r.consumed, piece.size());
    }
    out.error = d.error();
    if (out.status == Status::Done) {
        EXPECT_EQ(d.payload_bytes(), out.payload.size());
        EXPECT_TRUE(d.done());
    }
    return out;
}

// Whole, split in two at every byte, byte by byte: the same result every time.
Decoded decode_every_way(const std::string& body, std::size_t max_line = 4096, std::size_t max_trailer = 32768) {
    const std::string_view all = body;
    const Decoded whole = decode({all}, max_line, max_trailer);
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
        EXPECT_EQ(decode({all.substr(0, cut), all.substr(cut)}, max_line, max_trailer), whole) << "cut at " << cut;
        if (::testing::Test::HasFailure()) return whole;
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < body.size(); ++i) bytes.push_back(all.substr(i, 1));
    EXPECT_EQ(decode(bytes, max_line, max_trailer), whole) << "byte by byte";
    return whole;
}

struct ValidBody {
    const char* name;
    std::string body;
    std::string payload;
};

const ValidBody kValid[] = {
    {"LastChunkOnly_RFC9112_7_1", "0\r\n\r\n", ""},
    {"OneChunk_RFC9112_7_1", "5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"HexBothCases_RFC9112_7_1", "a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij"},
    {"LeadingZeros_RFC9112_7_1", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
    {"BinaryDataWithCRLF_RFC9112_7_1", "6\r\n\r\n\0\xff\n\r\r\n0\r\n\r\n"s, "\r\n\0\xff\n\r"s},
    {"ExtensionName_RFC9112_7_1_1", "5;foo\r\nhello\r\n0\r\n\r\n", "hello"},
    {"ExtensionToken_RFC9112_7_1_1", "5;foo=bar;baz\r\nhello\r\n0;last=1\r\n\r\n", "hello"},
    {"ExtensionBws_RFC9112_7_1_1", "5 \t; foo = bar ;x\r\nhello\r\n0\r\n\r\n", "hello"},
    {"ExtensionQuoted_RFC9112_7_1_1", "5;q=\"a \\\" ; b\\\\\";r=\"\"\r\nhello\r\n0\r\n\r\n", "hello"},
    {"ExtensionQuotedObsText_RFC9112_7_1_1", "5;q=\"caf\xc3\xa9\t\"\r\nhello\r\n0\r\n\r\n", "hello"},
    {"Trailers_RFC9112_7_1_2", "3\r\nabc\r\n0\r\nExpires: never\r\nX-Sum:\t ab c \xff\r\nX-Empty:\r\n\r\n", "abc"},
    {"ManyChunks_RFC9112_7_1", "1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n4\r\nghij\r\n0\r\n\r\n", "abcdefghij"},
};

class ValidChunked : public ::testing::TestWithParam<ValidBody> {};

TEST_P(ValidChunked, DecodesTheSameWholeSplitAndByteByByte) {
    const ValidBody& v = GetParam();
    const Decoded d = decode_every_way(v.body);
    ASSERT_EQ(d.status, Status::Done) << describe(d.error);
    EXPECT_EQ(d.payload, v.payload);
    EXPECT_EQ(d.consumed, v.body.size());
}

TEST_P(ValidChunked, StopsExactlyAtTheEndOfTheBody_RFC9112_9_3_2) {
    const ValidBody& v = GetParam();
    const Decoded d = decode_every_way(v.body + "GET /next HTTP/1.1\r\n\r\n");
    ASSERT_EQ(d.status, Status::Done);
    EXPECT_EQ(d.consumed, v.body.size());
    EXPECT_EQ(d.payload, v.payload);
}

INSTANTIATE_TEST_SUITE_P(Table, ValidChunked, ::testing::ValuesIn(kValid),
                         [](const auto& info) { return std::string(info.param.name); });

struct InvalidBody {
    const char* name;
    std::string body;
    ChunkError error;
};

const InvalidBody kInvalid[] = {
    {"EmptySize_RFC9112_7_1", "\r\n", ChunkError::BadSize},
    {"NotHex_RFC9112_7_1", "g\r\n", ChunkError::BadSize},
    {"HexPrefix_RFC9112_7_1", "0x5\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize},
    {"Sign_RFC9112_7_1", "+5\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize},
    {"LeadingSpace_RFC9112_7_1", " 5\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize},
    {"TrailingGarbage_RFC9112_7_1", "5x\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize},
    {"Overflow_RFC9112_7_1", "4000000000000000\r\n", ChunkError::SizeOverflow},
    {"OverflowLeadingDigits_RFC9112_7_1", "ffffffffffffffffff\r\n", ChunkError::SizeOverflow},
    {"TrailingSpaceWithoutExtension_RFC9112_7_1_1", "5 \r\nhello\r\n0\r\n\r\n", ChunkError::BadExtension},
    {"EmptyExtension_RFC9112_7_1_1", "5;\r\nhello\r\n0\r\n\r\n", ChunkError::BadExtension},
    {"ExtensionWithoutName_RFC9112_7_1_1", "5;=x\r\nhello\r\n0\r\n\r\n", ChunkError::BadExtension},
    {"ExtensionWithoutValue_RFC9112_7_1_1", "5;a=\r\nhello\r\n0\r\n\r\n", ChunkError::BadExtension},
    {"ExtensionNameSpaceName_RFC9112_7_1_1", "5;a b\r\nhello\r\n0\r\n\r\n", ChunkError::BadExtension},
    {"ExtensionValueSpace_RFC9112_7_1_1", "5;a=b c\r\nhello\r\n0\r\n\r\n", ChunkError::BadExtension},
    {"ExtensionUnterminatedQuote_RFC9112_7_1_1", "5;a=\"x\r\nhello\r\n0\r\n\r\n", ChunkError::BadExtension},
    {"ExtensionCtlInQuote_RFC9110_5_6_4", "5;a=\"x\x01\"\r\nhello\r\n0\r\n\r\n", ChunkError::BadExtension},
    {"ExtensionNotToken_RFC9112_7_1_1", "5;a@b\r\nhello\r\n0\r\n\r\n", ChunkError::BadExtension},
    {"SizeLineTooLong_RFC9112_7_1", "5;" + std::string(5000, 'a') + "\r\nhello\r\n0\r\n\r\n", ChunkError::LineTooLong},
    {"BareLFAfterSize_RFC9112_7_1", "5\nhello\r\n0\r\n\r\n", ChunkError::BadLineEnd},
    {"BareCRAfterSize_RFC9112_7_1", "5\rhello\r\n0\r\n\r\n", ChunkError::BadLineEnd},
    {"DataLongerThanSize_RFC9112_7_1", "5\r\nhelloX\r\n0\r\n\r\n", ChunkError::BadLineEnd},
    {"BareLFAfterData_RFC9112_7_1", "5\r\nhello\n0\r\n\r\n", ChunkError::BadLineEnd},
    {"BareCRAfterData_RFC9112_7_1", "5\r\nhello\rX0\r\n\r\n", ChunkError::BadLineEnd},
    {"BareLFLastLine_RFC9112_7_1", "0\r\n\n", ChunkError::BadLineEnd},
    {"BareLFInTrailer_RFC9112_7_1_2", "0\r\nA: b\n\r\n", ChunkError::BadLineEnd},
    {"BareCRInTrailer_RFC9112_7_1_2", "0\r\nA: b\rc\r\n\r\n", ChunkError::BadLineEnd},
    {"TrailerEmptyName_RFC9112_7_1_2", "0\r\n: x\r\n\r\n", ChunkError::BadTrailer},
    {"TrailerSpaceBeforeColon_RFC9112_5_1", "0\r\nA : b\r\n\r\n", ChunkError::BadTrailer},
    {"TrailerNoColon_RFC9112_7_1_2", "0\r\nAbc\r\n\r\n", ChunkError::BadTrailer},
    {"TrailerCtl_RFC9110_5_5", "0\r\nA: b\x01\r\n\r\n", ChunkError::BadTrailer},
    {"TrailerNul_RFC9110_5_5", "0\r\nA: b\0\r\n\r\n"s, ChunkError::BadTrailer},
    {"TrailerObsFold_RFC9112_5_2", "0\r\nA: b\r\n c\r\n\r\n", ChunkError::BadTrailer},
};

class InvalidChunked : public ::testing::TestWithParam<InvalidBody> {};

TEST_P(InvalidChunked, IsRejectedWholeSplitAndByteByByte) {
    const InvalidBody& v = GetParam();
    const Decoded d = decode_every_way(v.body);
    EXPECT_EQ(d.status, Status::Error);
    EXPECT_EQ(d.error, v.error) << describe(d.error);
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidChunked, ::testing::ValuesIn(kInvalid),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ChunkedDecoder, TrailerSectionLimit_RFC9112_7_1_2) {
    const std::string body = "0\r\nX-A: " + std::string(40, 'a') + "\r\n\r\n"; // trailer section: 49 bytes
    EXPECT_EQ(decode_every_way(body, 4096, 49).status, Status::Done);
    EXPECT_EQ(decode_every_way(body, 4096, 48).error, ChunkError::TrailerTooLarge);
}

TEST(ChunkedDecoder, SizeLineLimitCountsExtensionsAndCRLF_RFC9112_7_1) {
    const std::string body = "5;abcd\r\nhello\r\n0\r\n\r\n"; // size line: 8 bytes
    EXPECT_EQ(decode_every_way(body, 8).status, Status::Done);
    EXPECT_EQ(decode_every_way(body, 7).error, ChunkError::LineTooLong);
}

TEST(ChunkedDecoder, LargestSizeIsAccepted_RFC9112_7_1) {
    ChunkedDecoder d;
    EXPECT_EQ(d.feed("3fffffffffffffff\r\nabc").status, Status::NeedMore);
    EXPECT_EQ(d.payload_bytes(), 3u);
}

TEST(ChunkedDecoder, LargeChunkGoesToTheSinkInOnePiece) {
    const std::string data(1 << 20, 'z');
    const std::string body = "100000\r\n" + data + "\r\n0\r\n\r\n";
    struct Sink {
        int calls = 0;
        std::size_t bytes = 0;
    } sink;
    ChunkedDecoder d;
    const auto r = d.feed(body, [](void* ctx, std::string_view p) {
        auto* s = static_cast<Sink*>(ctx);
        ++s->calls;
        s->bytes += p.size();
    }, &sink);
    EXPECT_EQ(r.status, Status::Done);
    EXPECT_EQ(r.consumed, body.size());
    EXPECT_EQ(sink.calls, 1);
    EXPECT_EQ(sink.bytes, data.size());
}

TEST(ChunkedDecoder, NothingMoreIsConsumedAfterDoneOrError) {
    ChunkedDecoder d;
    EXPECT_EQ(d.feed("0\r\n\r\nrest").consumed, 5u);
    auto r = d.feed("more");
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_EQ(r.status, Status::Done);

    ChunkedDecoder bad;
    EXPECT_EQ(bad.feed("zz").status, Status::Error);
    r = bad.feed("0\r\n\r\n");
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_EQ(r.status, Status::Error);
    EXPECT_EQ(bad.error(), ChunkError::BadSize);

    bad.reset();
    EXPECT_EQ(bad.error(), ChunkError::None);
    EXPECT_EQ(bad.feed("0\r\n\r\n").status, Status::Done);
    EXPECT_EQ(bad.payload_bytes(), 0u);
}

TEST(ChunkedDecoder, WorksWithoutASink) {
    ChunkedDecoder d;
    const auto r = d.feed("3\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(r.status, Status::Done);
    EXPECT_EQ(d.payload_bytes(), 3u);
}

TEST(ChunkError, EveryErrorHasADescription) {
    for (int i = 1; i <= static_cast<int>(ChunkError::TrailerTooLarge); ++i) {
        EXPECT_FALSE(describe(static_cast<ChunkError>(i)).empty());
        EXPECT_NE(describe(static_cast<ChunkError>(i)), describe(ChunkError::None));
    }
}

} // namespace
} // namespace haven::http
