// Stick tables (src/session/stick_table.cpp) on a fake clock: expiry since last use, the size
// bound (least recently used first), last writer wins by stamp, and the documented entry size.
#include "session/stick_table.hpp"

#include <gtest/gtest.h>

namespace haven::session {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TimePoint at_time(Duration d) { return TimePoint(d); }

TEST(StickTable, AnEntryLastsExpireSinceItWasLastUsed) {
    StickTable t(100, minutes(30));
    EXPECT_EQ(t.put(7, 1001, 1, at_time(seconds(0))), StickTable::Put::Added);
    EXPECT_EQ(t.find(7, at_time(minutes(29)))->server, 1001u);   // used: good until 59 min
    EXPECT_EQ(t.find(7, at_time(minutes(58)))->server, 1001u);   // used again: good until 88 min
    EXPECT_FALSE(t.find(7, at_time(minutes(89))).has_value());
    EXPECT_FALSE(t.find(8, at_time(minutes(1))).has_value());
}

TEST(StickTable, PutReportsWhatChanged) {
    StickTable t(100, minutes(30));
    EXPECT_EQ(t.put(7, 1001, 10, at_time(seconds(0))), StickTable::Put::Added);
    EXPECT_EQ(t.put(7, 1001, 11, at_time(seconds(1))), StickTable::Put::Refreshed);
    EXPECT_EQ(t.put(7, 1003, 12, at_time(seconds(2))), StickTable::Put::Changed);
    EXPECT_EQ(t.find(7, at_time(seconds(3)))->server, 1003u);
}

TEST(StickTable, TheLaterWriteWinsWhateverOrderWritesArrive) {
    StickTable t(100, minutes(30));
    t.put(7, 1003, 200, at_time(seconds(0)));
    EXPECT_EQ(t.put(7, 1001, 100, at_time(seconds(1))), StickTable::Put::Older); // an older write from elsewhere
    EXPECT_EQ(t.find(7, at_time(seconds(2)))->server, 1003u);
    // Once the entry expired, any write counts as new.
    EXPECT_EQ(t.put(7, 1001, 100, at_time(minutes(40))), StickTable::Put::Added);
}

TEST(StickTable, SizeIsBoundedLeastRecentlyUsedGoesFirst) {
    StickTable t(16, minutes(30)); // one entry per shard
    for (std::uint64_t k = 1; k <= 1000; ++k) t.put(k, 5, 1, at_time(seconds(1)));
    EXPECT_LE(t.size(), 16u);
    EXPECT_GE(t.evictions(), 1000u - 16u);
}

TEST(StickTable, EntryCostIsDocumented) {
    // docs/sessions.md states 104 bytes per entry on x86-64 glibc.
    EXPECT_EQ(StickTable::bytes_per_entry(), 104u);
}

} // namespace
} // namespace haven::session
