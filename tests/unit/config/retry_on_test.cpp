// parse_retry_on (src/config/retry_on.cpp): the spellings a pool's retry_on accepts.
#include "config/retry_on.hpp"

#include <gtest/gtest.h>

namespace haven::config {
namespace {

TEST(ParseRetryOn, AcceptsEveryItem) {
    EXPECT_EQ(parse_retry_on("connect-failure"), RetryOnConnectFailure);
    EXPECT_EQ(parse_retry_on("reset"), RetryOnReset);
    EXPECT_EQ(parse_retry_on("timeout"), RetryOnTimeout);
    EXPECT_EQ(parse_retry_on("500"), RetryOn500);
    EXPECT_EQ(parse_retry_on("502"), RetryOn502);
    EXPECT_EQ(parse_retry_on("503"), RetryOn503);
    EXPECT_EQ(parse_retry_on("504"), RetryOn504);
    EXPECT_EQ(parse_retry_on("5xx"), RetryOn5xx);
}

TEST(ParseRetryOn, RejectsAnythingElse) {
    for (const char* bad : {"", "Reset", "TIMEOUT", "5XX", "connect_failure", "connect-failure ", " reset",
                            "501", "5", "50x", "4xx", "gateway-error", "reset,timeout"}) {
        EXPECT_EQ(parse_retry_on(bad), std::nullopt) << '"' << bad << '"';
    }
}

} // namespace
} // namespace haven::config
