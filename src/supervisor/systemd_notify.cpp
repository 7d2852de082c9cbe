#include "supervisor/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

namespace haven::supervisor {

SystemdNotifier::SystemdNotifier() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && *socket != '\0';
    std::uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process.
    if (enabled_ && ::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        watchdog_ = std::chrono::microseconds(usec / 2);
    }
}

void SystemdNotifier::send(const std::string& state) {
    if (!enabled_) return;
    const int rc = ::sd_notify(0, state.c_str());
    if (rc < 0) {
        spdlog::warn("systemd notify failed: {}", std::strerror(-rc));
        return;
    }
    ++sent_;
}

void SystemdNotifier::ready(const std::string& status) { send("READY=1\nSTATUS=" + status); }

void SystemdNotifier::reloading(TimePoint now) {
    const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading");
}

void SystemdNotifier::stopping() { send("STOPPING=1\nSTATUS=draining"); }

void SystemdNotifier::watchdog() { send("WATCHDOG=1"); }

} // namespace haven::supervisor
