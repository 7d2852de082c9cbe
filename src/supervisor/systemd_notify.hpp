// haven under systemd (packaging/haven.service, Type=notify): it tells the service manager
// READY=1 once its listeners and first round of checks are up, RELOADING=1 then READY=1 around
// a reload, STOPPING=1 when it starts to drain, and WATCHDOG=1 at half the WatchdogSec period,
// from the control thread (a control thread that hangs stops the pings, and systemd restarts
// haven). Through libsystemd's sd_notify; without NOTIFY_SOCKET every call does nothing.
#pragma once

#include "core/clock.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace haven::supervisor {

class SystemdNotifier {
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once.
    SystemdNotifier();

    bool enabled() const { return enabled_; }
    void ready(const std::string& status);
    // `now` on the monotonic clock: systemd matches it against its own reload request.
    void reloading(TimePoint now);
    void stopping();
    void watchdog();
    // How often to send WATCHDOG=1 (half of WatchdogSec); nullopt when systemd expects none.
    std::optional<Duration> watchdog_period() const { return watchdog_; }
    std::uint64_t sent() const { return sent_; }

private:
    void send(const std::string& state);

    bool enabled_ = false;
    std::optional<Duration> watchdog_;
    std::uint64_t sent_ = 0;
};

} // namespace haven::supervisor
