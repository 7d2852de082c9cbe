// A replica's output becomes log lines: split at newlines, long lines cut, at most N lines per
// second (the rest counted and reported), control bytes neutralised.
#include "supervisor/line_sink.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using haven::TimePoint;
using haven::supervisor::LineSink;

namespace {

struct Lines {
    std::vector<std::string> got;
    LineSink sink(std::size_t max_line, std::uint32_t per_second) {
        return LineSink(max_line, per_second, [this](std::string_view l) { got.emplace_back(l); });
    }
};

const TimePoint t0 = TimePoint{} + 1h;

} // namespace

TEST(LineSink, SplitsChunksIntoLines) {
    Lines l;
    auto s = l.sink(100, 100);
    s.feed("hello wo", t0);
    s.feed("rld\nsecond\nthi", t0);
    EXPECT_EQ(l.got, (std::vector<std::string>{"hello world", "second"}));
    s.finish(t0);
    EXPECT_EQ(l.got.back(), "thi");
}

TEST(LineSink, CutsLongLinesAndSkipsToTheNewline) {
    Lines l;
    auto s = l.sink(5, 100);
    s.feed("abcdefghij\nok\n", t0);
    ASSERT_EQ(l.got.size(), 2u);
    EXPECT_EQ(l.got[0], "abcde [line cut at 5 bytes]");
    EXPECT_EQ(l.got[1], "ok");
}

TEST(LineSink, DropsLinesBeyondTheRateAndSaysHowMany) {
    Lines l;
    auto s = l.sink(100, 3);
    for (int i = 0; i < 10; ++i) s.feed("line\n", t0 + std::chrono::milliseconds(i));
    EXPECT_EQ(l.got.size(), 3u);
    EXPECT_EQ(s.dropped(), 7u);
    s.feed("later\n", t0 + 1500ms);
    ASSERT_EQ(l.got.size(), 5u);
    EXPECT_EQ(l.got[3], "(7 lines dropped: more than 3 lines per second)");
    EXPECT_EQ(l.got[4], "later");
}

TEST(LineSink, ControlBytesAreShownAsQuestionMarks) {
    Lines l;
    auto s = l.sink(100, 100);
    s.feed(std::string("a\x1b[31mb\tc\r\n", 11), t0);
    EXPECT_EQ(l.got.at(0), "a?[31mb\tc?");
}
