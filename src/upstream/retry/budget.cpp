// The retry budget's window and its one decision. Plain integers: a budget belongs to one worker.
#include "upstream/retry/budget.hpp"

#include <cmath>

namespace haven::upstream {

void RetryBudget::rotate(std::int64_t second) {
    // Rules: time never runs backwards here (a reading older than the newest bucket is counted in
    // the newest one); a jump of a whole window or more empties everything; otherwise each bucket
    // passed over is emptied before it is reused.
    if (second < second_) return;
    const std::int64_t gap = second_ == INT64_MIN ? kBuckets : second - second_;
    if (gap >= kBuckets) {
        requests_.fill(0);
        retries_.fill(0);
        request_sum_ = 0;
        retry_sum_ = 0;
        slot_ = 0;
    } else {
        for (std::int64_t i = 0; i < gap; ++i) {
            slot_ = (slot_ + 1) % kBuckets;
            request_sum_ -= requests_[slot_];
            retry_sum_ -= retries_[slot_];
            requests_[slot_] = 0;
            retries_[slot_] = 0;
        }
    }
    second_ = second;
}

double RetryBudget::allowance() const {
    // A ratio that is not a positive number (0, negative, NaN) grants only the floor.
    const double share = params_.ratio > 0.0 ? params_.ratio * static_cast<double>(request_sum_) : 0.0;
    const double floor = static_cast<double>(params_.min_per_second) * kBuckets;
    return floor + share + static_cast<double>(in_flight_);
}

bool RetryBudget::try_acquire(TimePoint now) {
    advance(now);
    if (static_cast<double>(retry_sum_) + 1.0 > allowance()) return false;
    ++retries_[slot_];
    ++retry_sum_;
    return true;
}

} // namespace haven::upstream
