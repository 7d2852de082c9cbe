// ResourceLimits (src/upstream/circuit/resource_limits.hpp).
#include "upstream/circuit/resource_limits.hpp"

#include <gtest/gtest.h>

namespace haven::upstream {
namespace {

TEST(ResourceLimits, EachCapHoldsItsOwnCount) {
    ResourceLimits l({2, 1, 0});
    EXPECT_TRUE(l.acquire_request());
    EXPECT_TRUE(l.acquire_request());
    EXPECT_FALSE(l.acquire_request());
    EXPECT_EQ(l.requests(), 2u);
    EXPECT_EQ(l.overflow_requests(), 1u);
    l.release_request();
    EXPECT_TRUE(l.acquire_request());
    EXPECT_TRUE(l.acquire_connection());
    EXPECT_FALSE(l.acquire_connection());
    EXPECT_EQ(l.overflow_connections(), 1u);
}

TEST(ResourceLimits, ZeroMeansNoCap) {
    ResourceLimits l({0, 0, 0});
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(l.acquire_retry());
    EXPECT_EQ(l.retries(), 0u) << "nothing is counted without a cap";
    l.release_retry();
    EXPECT_EQ(l.retries(), 0u);
}

} // namespace
} // namespace haven::upstream
