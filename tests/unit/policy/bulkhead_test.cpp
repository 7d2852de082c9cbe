// Bulkhead (src/policy/bulkhead.cpp): the cap, the queue in arrival order, hand-over of a slot to
// the oldest waiter, giving up, and many threads at once.
#include "policy/bulkhead.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace haven::policy {
namespace {

using Entry = Bulkhead::Entry;

std::shared_ptr<Bulkhead::Waiter> waiter(int& woken) {
    auto w = std::make_shared<Bulkhead::Waiter>();
    w->wake = [&woken] { ++woken; };
    return w;
}

TEST(Bulkhead, CapsRequestsInFlightAndQueuesTheRest) {
    Bulkhead b(2, 1);
    int woken = 0;
    EXPECT_TRUE(b.try_enter());
    EXPECT_TRUE(b.try_enter());
    EXPECT_FALSE(b.try_enter());
    auto w = waiter(woken);
    EXPECT_EQ(b.enter(w), Entry::Queued);
    EXPECT_EQ(b.enter(waiter(woken)), Entry::Rejected) << "the queue holds one";
    EXPECT_EQ(b.queued(), 1u);
    EXPECT_FALSE(b.try_enter()) << "a newcomer does not jump the queue";
    b.leave();
    EXPECT_EQ(woken, 1);
    EXPECT_EQ(w->state.load(), Bulkhead::Waiter::Granted);
    EXPECT_EQ(b.active(), 2u) << "the slot went to the waiter, not back to the pool";
    b.leave();
    b.leave();
    EXPECT_EQ(b.active(), 0u);
}

TEST(Bulkhead, TheOldestWaiterIsServedFirst) {
    Bulkhead b(1, 3);
    int woken = 0;
    ASSERT_TRUE(b.try_enter());
    auto first = waiter(woken), second = waiter(woken);
    ASSERT_EQ(b.enter(first), Entry::Queued);
    ASSERT_EQ(b.enter(second), Entry::Queued);
    b.leave();
    EXPECT_EQ(first->state.load(), Bulkhead::Waiter::Granted);
    EXPECT_EQ(second->state.load(), Bulkhead::Waiter::Waiting);
}

TEST(Bulkhead, AWaiterThatGaveUpIsSkipped) {
    Bulkhead b(1, 3);
    int woken = 0;
    ASSERT_TRUE(b.try_enter());
    auto gone = waiter(woken), next = waiter(woken);
    ASSERT_EQ(b.enter(gone), Entry::Queued);
    ASSERT_EQ(b.enter(next), Entry::Queued);
    EXPECT_FALSE(b.abandon(gone)) << "it had no slot";
    EXPECT_EQ(b.queued(), 1u);
    b.leave();
    EXPECT_EQ(next->state.load(), Bulkhead::Waiter::Granted);
    EXPECT_EQ(woken, 1);
}

TEST(Bulkhead, GivingUpAfterTheGrantKeepsTheSlot) {
    Bulkhead b(1, 1);
    int woken = 0;
    ASSERT_TRUE(b.try_enter());
    auto w = waiter(woken);
    ASSERT_EQ(b.enter(w), Entry::Queued);
    b.leave(); // granted, but its timeout fires at the same moment
    EXPECT_TRUE(b.abandon(w)) << "the caller owns the slot and must leave()";
    EXPECT_EQ(b.active(), 1u);
    b.leave();
    EXPECT_EQ(b.active(), 0u);
}

TEST(Bulkhead, ManyThreadsNeverExceedTheCap) {
    Bulkhead b(3, 1000);
    std::atomic<int> inside{0}, worst{0}, done{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 2000; ++i) {
                if (!b.try_enter()) {
                    auto w = std::make_shared<Bulkhead::Waiter>();
                    std::atomic<bool> granted{false};
                    w->wake = [&granted] { granted = true; };
                    const auto e = b.enter(w);
                    if (e == Entry::Rejected) continue;
                    if (e == Entry::Queued) {
                        while (!granted.load()) std::this_thread::yield();
                    }
                }
                const int now = ++inside;
                int seen = worst.load();
                while (now > seen && !worst.compare_exchange_weak(seen, now)) {
                }
                --inside;
                b.leave();
                ++done;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_LE(worst.load(), 3);
    EXPECT_EQ(b.active(), 0u);
    EXPECT_EQ(done.load(), 8000) << "with a queue this long nobody was refused";
}

} // namespace
} // namespace haven::policy
