#include "core/clock.hpp"

namespace haven {

TimePoint SystemClock::now() const { return MonoClock::now(); }

const SystemClock& SystemClock::instance() {
    static const SystemClock clock;
    return clock;
}

std::int64_t wall_time_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace haven
