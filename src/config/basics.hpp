// The two types every part of the schema uses: its duration unit and where a value was written.
#pragma once

#include <chrono>

namespace haven::config {

using Duration = std::chrono::milliseconds;

// Where a value came from, for error messages: "haven.yaml:12:7: ...". Not part of the value:
// two policies that differ only in where they were written compare equal (a reload that moves a
// route's lines keeps its counters).
struct SourceLoc {
    int line = 0;   // 1-based; 0 = not from a file (default value)
    int column = 0; // 1-based
    friend bool operator==(const SourceLoc&, const SourceLoc&) { return true; }
};

} // namespace haven::config
