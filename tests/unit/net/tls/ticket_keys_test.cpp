// Session-ticket keys on a fake clock (time is a parameter): rotation, the three keys kept, and
// what an old ticket's key is found as.
#include "net/tls/ticket_keys.hpp"

#include <gtest/gtest.h>

namespace haven::net::tls {
namespace {

constexpr std::int64_t kHour = 3'600'000;

TEST(TicketKeys, OneKeyUntilAPeriodPassesThenANewOne) {
    TicketKeys keys(kHour);
    const TicketKey a = keys.current(0);
    EXPECT_EQ(keys.current(kHour - 1).name, a.name) << "the same key within its period";
    const TicketKey b = keys.current(kHour);
    EXPECT_NE(b.name, a.name);
    EXPECT_NE(b.aes, a.aes);
    EXPECT_NE(b.hmac, a.hmac);
    EXPECT_EQ(keys.size(), 2u);
}

TEST(TicketKeys, KeepsTheNewestThreeAndFindsOlderOnesAsOlder) {
    TicketKeys keys(kHour);
    const TicketKey k0 = keys.current(0);
    const TicketKey k1 = keys.current(kHour);
    const TicketKey k2 = keys.current(2 * kHour);
    TicketKey out;
    EXPECT_EQ(keys.find(k2.name.data(), 2 * kHour, out), TicketKeys::Found::Current);
    EXPECT_EQ(keys.find(k1.name.data(), 2 * kHour, out), TicketKeys::Found::Older);
    EXPECT_EQ(out.aes, k1.aes);
    EXPECT_EQ(keys.find(k0.name.data(), 2 * kHour, out), TicketKeys::Found::Older);
    keys.current(3 * kHour); // a fourth key: the oldest goes
    EXPECT_EQ(keys.size(), TicketKeys::kKept);
    EXPECT_EQ(keys.find(k0.name.data(), 3 * kHour, out), TicketKeys::Found::No);
    EXPECT_EQ(keys.find(k1.name.data(), 3 * kHour, out), TicketKeys::Found::Older);
}

TEST(TicketKeys, AnUnknownNameIsNotFound) {
    TicketKeys keys(kHour);
    keys.current(0);
    TicketKey out;
    const unsigned char name[16] = {1, 2, 3};
    EXPECT_EQ(keys.find(name, 0, out), TicketKeys::Found::No);
}

TEST(TicketKeys, TheListenersSetOutlivesAReloadAndTakesTheNewRotation) {
    auto a = TicketKeys::for_listener("ticket-test", kHour);
    const TicketKey k = a->current(0);
    auto b = TicketKeys::for_listener("ticket-test", 2 * kHour); // a reload with another rotation
    EXPECT_EQ(a, b);
    EXPECT_EQ(b->current(kHour).name, k.name) << "now two hours per key";
    EXPECT_NE(b->current(2 * kHour).name, k.name);
    EXPECT_NE(TicketKeys::for_listener("other-listener", kHour), a);
}

} // namespace
} // namespace haven::net::tls
