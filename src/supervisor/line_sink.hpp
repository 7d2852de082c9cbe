// LineSink: turns a child's output (bytes as they arrive) into log lines, bounded both ways so
// that a chatty or hostile child can neither make haven buffer without limit nor flood its log:
// a line longer than `max_line` bytes is cut (the rest up to its newline is skipped), and beyond
// `lines_per_second` lines in one second the rest of that second is dropped and counted, with one
// line saying how many when output resumes. Control bytes are shown as '?'. Pure: time is passed
// in, and the lines go to a callback (posix_launcher.cpp logs them with the replica's name).
#pragma once

#include "core/clock.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace haven::supervisor {

class LineSink {
public:
    using Emit = std::function<void(std::string_view line)>;

    LineSink(std::size_t max_line, std::uint32_t lines_per_second, Emit emit);

    void feed(std::string_view bytes, TimePoint now);
    // End of stream: a last line without a newline is emitted too.
    void finish(TimePoint now);

    std::uint64_t dropped() const { return dropped_; }
    std::uint64_t emitted() const { return emitted_; }

private:
    void line_done(TimePoint now);
    void account_window(TimePoint now);

    std::size_t max_line_;
    std::uint32_t per_second_;
    Emit emit_;
    std::string line_;
    bool truncated_ = false;
    TimePoint window_start_{};
    std::uint32_t in_window_ = 0;
    std::uint64_t dropped_in_window_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t emitted_ = 0;
};

} // namespace haven::supervisor
