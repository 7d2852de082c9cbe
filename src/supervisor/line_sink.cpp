#include "supervisor/line_sink.hpp"

#include <fmt/format.h>

namespace haven::supervisor {

LineSink::LineSink(std::size_t max_line, std::uint32_t lines_per_second, Emit emit)
    : max_line_(max_line), per_second_(lines_per_second), emit_(std::move(emit)) {}

void LineSink::feed(std::string_view bytes, TimePoint now) {
    for (const char c : bytes) {
        if (c == '\n') {
            line_done(now);
            continue;
        }
        if (line_.size() >= max_line_) {
            truncated_ = true; // skip to the newline; the line is reported cut
            continue;
        }
        const auto u = static_cast<unsigned char>(c);
        line_.push_back((u < 0x20 && c != '\t') || u == 0x7f ? '?' : c);
    }
}

void LineSink::finish(TimePoint now) {
    if (!line_.empty() || truncated_) line_done(now);
}

// A new one-second window starts at the first line after the last one ended; the lines dropped in
// the window that ended are reported first.
void LineSink::account_window(TimePoint now) {
    if (now - window_start_ < std::chrono::seconds(1)) return;
    if (dropped_in_window_ > 0) {
        emit_(fmt::format("({} lines dropped: more than {} lines per second)", dropped_in_window_, per_second_));
        ++emitted_;
    }
    window_start_ = now;
    in_window_ = 0;
    dropped_in_window_ = 0;
}

void LineSink::line_done(TimePoint now) {
    account_window(now);
    if (in_window_ >= per_second_) {
        ++dropped_in_window_;
        ++dropped_;
    } else {
        ++in_window_;
        ++emitted_;
        if (truncated_) line_ += fmt::format(" [line cut at {} bytes]", max_line_);
        emit_(line_);
    }
    line_.clear();
    truncated_ = false;
}

} // namespace haven::supervisor
