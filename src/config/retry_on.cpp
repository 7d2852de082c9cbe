#include "config/retry_on.hpp"

namespace haven::config {

std::optional<std::uint32_t> parse_retry_on(std::string_view item) {
    if (item == "connect-failure") return RetryOnConnectFailure;
    if (item == "reset") return RetryOnReset;
    if (item == "timeout") return RetryOnTimeout;
    if (item == "500") return RetryOn500;
    if (item == "502") return RetryOn502;
    if (item == "503") return RetryOn503;
    if (item == "504") return RetryOn504;
    if (item == "5xx") return RetryOn5xx;
    return std::nullopt;
}

} // namespace haven::config
