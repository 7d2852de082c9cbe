#include "core/deadlines.hpp"
#include "support/manual_scheduler.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace haven {
namespace {

struct Probe {
    Deadline d;
    int fired = 0;
    TimePoint when{};
    test::ManualScheduler* sched = nullptr;
    static void on_expire(Deadline* d) {
        auto* p = static_cast<Probe*>(d->owner);
        ++p->fired;
        p->when = p->sched->now();
    }
    explicit Probe(test::ManualScheduler& s) : sched(&s) {
        d.owner = this;
        d.on_expire = &Probe::on_expire;
    }
};

TEST(DeadlineList, FiresNeverEarlyAndAtMostTwoTicksLate) {
    test::ManualScheduler sched;
    DeadlineList list(sched, 100ms);
    list.start();
    Probe p(sched);
    list.add(p.d);
    const TimePoint armed_at = sched.now();
    list.set(p.d, 1s);
    sched.advance(999ms);
    EXPECT_EQ(p.fired, 0);
    sched.advance(2s);
    ASSERT_EQ(p.fired, 1);
    EXPECT_GE(p.when - armed_at, 1s);
    EXPECT_LE(p.when - armed_at, 1s + 2 * list.tick());
    list.remove(p.d);
}

TEST(DeadlineList, StaleTickTimeStillNeverFiresEarly) {
    test::ManualScheduler sched;
    DeadlineList list(sched, 100ms);
    list.start();
    Probe p(sched);
    list.add(p.d);
    sched.advance(99ms); // the list's notion of now is 99 ms stale when we arm
    const TimePoint real_arm = sched.now();
    list.set(p.d, 300ms);
    sched.advance(299ms);
    EXPECT_EQ(p.fired, 0);
    sched.advance(1s);
    ASSERT_EQ(p.fired, 1);
    EXPECT_GE(p.when - real_arm, 300ms);
    list.remove(p.d);
}

TEST(DeadlineList, FiresOnceAndCanBeRearmedOrCleared) {
    test::ManualScheduler sched;
    DeadlineList list(sched, 50ms);
    list.start();
    Probe p(sched);
    list.add(p.d);
    list.set(p.d, 100ms);
    sched.advance(1s);
    EXPECT_EQ(p.fired, 1);
    sched.advance(1s);
    EXPECT_EQ(p.fired, 1) << "an expired deadline does not fire again until re-armed";
    list.set(p.d, 100ms);
    DeadlineList::clear(p.d);
    sched.advance(1s);
    EXPECT_EQ(p.fired, 1) << "cleared deadlines never fire";
    list.remove(p.d);
    EXPECT_EQ(list.size(), 0u);
}

TEST(DeadlineList, RemovedEntriesNeverFireAndTickHookRuns) {
    test::ManualScheduler sched;
    DeadlineList list(sched, 100ms);
    int ticks = 0;
    list.start([&](TimePoint) { ++ticks; });
    Probe a(sched), b(sched);
    list.add(a.d);
    list.add(b.d);
    list.set(a.d, 200ms);
    list.set(b.d, 200ms);
    list.remove(a.d);
    sched.advance(1s);
    EXPECT_EQ(a.fired, 0);
    EXPECT_EQ(b.fired, 1);
    EXPECT_EQ(ticks, 10);
    list.remove(b.d);
}

TEST(DeadlineList, AnExpiringEntryMayRemoveItself) {
    test::ManualScheduler sched;
    DeadlineList list(sched, 100ms);
    list.start();
    struct SelfRemoving {
        Deadline d;
        DeadlineList* list;
        bool fired = false;
    } x{{}, &list};
    x.d.owner = &x;
    x.d.on_expire = [](Deadline* d) {
        auto* self = static_cast<SelfRemoving*>(d->owner);
        self->fired = true;
        self->list->remove(self->d);
    };
    Probe after(sched);
    list.add(x.d);
    list.add(after.d);
    list.set(x.d, 100ms);
    list.set(after.d, 100ms);
    sched.advance(1s);
    EXPECT_TRUE(x.fired);
    EXPECT_EQ(after.fired, 1);
    EXPECT_EQ(list.size(), 1u);
    list.remove(after.d);
}

} // namespace
} // namespace haven
