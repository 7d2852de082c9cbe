#include "upstream/circuit/server_slots.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace haven::upstream {
namespace {

struct Woken {
    int count = 0;
};

std::shared_ptr<ServerSlots::Waiter> waiter(Woken& woken, std::vector<HostIndex> exclude = {}) {
    auto w = std::make_shared<ServerSlots::Waiter>();
    w->exclude = std::move(exclude);
    w->wake = [&woken] { ++woken.count; };
    return w;
}

TEST(ServerSlots, ACappedServerTakesUpToItsCapAndAnUncappedOneAlways) {
    ServerSlots s({2, 0}, 10);
    EXPECT_TRUE(s.try_take(0));
    EXPECT_TRUE(s.try_take(0));
    EXPECT_FALSE(s.try_take(0));
    EXPECT_EQ(s.active(0), 2u);
    EXPECT_EQ(s.room(0), 0u);
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(s.try_take(1));
    EXPECT_EQ(s.active(1), 0u); // an uncapped server counts nothing
    s.leave(0);
    EXPECT_EQ(s.room(0), 1u);
    EXPECT_TRUE(s.try_take(0));
}

TEST(ServerSlots, AFreedSlotGoesToTheOldestWaiterNotToANewcomer) {
    ServerSlots s({1}, 10);
    Woken a, b;
    ASSERT_TRUE(s.try_take(0));
    auto wa = waiter(a), wb = waiter(b);
    const std::vector<HostIndex> candidates{0};
    EXPECT_EQ(s.enter(wa, candidates), ServerSlots::Entry::Queued);
    EXPECT_EQ(s.enter(wb, candidates), ServerSlots::Entry::Queued);
    EXPECT_FALSE(s.try_take(0)); // others wait: a newcomer does not overtake them
    s.leave(0);
    EXPECT_EQ(a.count, 1);
    EXPECT_EQ(b.count, 0);
    EXPECT_EQ(wa->state.load(), ServerSlots::Waiter::Granted);
    EXPECT_EQ(wa->granted, 0u);
    EXPECT_EQ(s.active(0), 1u); // handed over, never freed in between
    s.leave(0);
    EXPECT_EQ(b.count, 1);
    EXPECT_EQ(s.queued(), 0u);
    EXPECT_EQ(s.queued_total(), 2u);
}

TEST(ServerSlots, AWaiterIsNeverGivenAServerItAlreadyTried) {
    ServerSlots s({1, 1}, 10);
    Woken a, b;
    ASSERT_TRUE(s.try_take(0));
    ASSERT_TRUE(s.try_take(1));
    auto wa = waiter(a, {0}); // tried server 0 already
    auto wb = waiter(b);
    EXPECT_EQ(s.enter(wa, std::vector<HostIndex>{1}), ServerSlots::Entry::Queued);
    EXPECT_EQ(s.enter(wb, std::vector<HostIndex>{0, 1}), ServerSlots::Entry::Queued);
    s.leave(0); // the oldest waiter cannot use server 0: the next one gets it
    EXPECT_EQ(a.count, 0);
    EXPECT_EQ(b.count, 1);
    EXPECT_EQ(wb->granted, 0u);
    s.leave(1);
    EXPECT_EQ(a.count, 1);
    EXPECT_EQ(wa->granted, 1u);
}

TEST(ServerSlots, AFullQueueRejectsAndAnEmptyOneAdmitsOnAnyCandidateWithRoom) {
    ServerSlots s({1, 1}, 1);
    Woken a, b, c;
    ASSERT_TRUE(s.try_take(0));
    auto wa = waiter(a);
    EXPECT_EQ(s.enter(wa, std::vector<HostIndex>{0, 1}), ServerSlots::Entry::Admitted);
    EXPECT_EQ(wa->granted, 1u);
    EXPECT_EQ(s.enter(waiter(b), std::vector<HostIndex>{0, 1}), ServerSlots::Entry::Queued);
    EXPECT_EQ(s.enter(waiter(c), std::vector<HostIndex>{0, 1}), ServerSlots::Entry::Rejected);
    EXPECT_EQ(s.full_total(), 1u);
    EXPECT_EQ(s.enter(waiter(c), std::vector<HostIndex>{}), ServerSlots::Entry::Rejected); // nothing to wait for
    EXPECT_EQ(s.full_total(), 1u);
}

TEST(ServerSlots, AWaiterThatGaveUpIsSkippedAndItsSlotGoesOn) {
    ServerSlots s({1}, 10);
    Woken a, b;
    ASSERT_TRUE(s.try_take(0));
    auto wa = waiter(a), wb = waiter(b);
    ASSERT_EQ(s.enter(wa, std::vector<HostIndex>{0}), ServerSlots::Entry::Queued);
    ASSERT_EQ(s.enter(wb, std::vector<HostIndex>{0}), ServerSlots::Entry::Queued);
    EXPECT_FALSE(s.abandon(wa)); // its queue timeout: it had not been granted
    EXPECT_EQ(s.queued(), 1u);
    s.leave(0);
    EXPECT_EQ(a.count, 0);
    EXPECT_EQ(b.count, 1);
    // Granted before it could give up: abandon says so, and the caller owns the slot.
    Woken c;
    auto wc = waiter(c);
    ASSERT_EQ(s.enter(wc, std::vector<HostIndex>{0}), ServerSlots::Entry::Queued);
    s.leave(0);
    EXPECT_TRUE(s.abandon(wc));
    EXPECT_EQ(s.active(0), 1u);
    s.leave(0);
    EXPECT_EQ(s.active(0), 0u);
}

} // namespace
} // namespace haven::upstream
