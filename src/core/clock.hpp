// src/core: the process's foundations — time, scheduling, randomness, worker threads, signals.
//
// Everything that reads a clock or draws a random number goes through the interfaces declared
// here, so that health checks, breakers, rate limits and ejections can be tested against a fake
// clock (tests/support/manual_scheduler.hpp) instead of sleeping. Only src/core/ calls
// steady_clock::now(), system_clock::now() or random_device; a test enforces that.
#pragma once

#include <chrono>
#include <cstdint>

namespace haven {

using MonoClock = std::chrono::steady_clock;
using TimePoint = MonoClock::time_point;
using Duration = std::chrono::nanoseconds;
using Millis = std::chrono::milliseconds;
using Seconds = std::chrono::seconds;

// A source of the current monotonic time.
class Clock {
public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
};

// The real monotonic clock. Cheap: steady_clock::now() is a vDSO call, no syscall.
class SystemClock final : public Clock {
public:
    TimePoint now() const override;
    static const SystemClock& instance();
};

// Wall-clock time for timestamps shown to people (access log, event history).
// Microseconds since the Unix epoch.
std::int64_t wall_time_us();

// Milliseconds between two time points, as a double (for logs and metrics).
inline double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

} // namespace haven
