// Per-server request counters, one slot per worker thread (summed at scrape time). The same
// object follows a server across snapshots for as long as it keeps its name and address, like
// HostSignals, so the counters stay monotonic.
#pragma once

#include "core/counters.hpp"

#include <array>

namespace haven::upstream {

// Why an attempt got no response. Index into HostCounters::failures.
enum class AttemptError : std::uint8_t { Connect, Timeout, Reset, Protocol, Count };

struct HostCounters {
    Counter attempts;                    // tries sent to this server
    Counter retried;                     // tries here that failed and were retried (on any server)
    std::array<Counter, 6> responses;    // responses received, by status class (index = status / 100)
    std::array<Counter, static_cast<std::size_t>(AttemptError::Count)> failures;
    Counter active;                      // requests in flight now (a gauge)
    Counter refused_marks;               // a refused connect made this worker stop picking it
};

using HostMetrics = PerWorker<HostCounters>;

} // namespace haven::upstream
