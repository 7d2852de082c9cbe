// haven speaks sd_notify to a real datagram socket named in NOTIFY_SOCKET, as systemd would
// have it; no systemd needed.
#include "supervisor/systemd_notify.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

using namespace std::chrono_literals;
using haven::supervisor::SystemdNotifier;

namespace {

// A bound AF_UNIX datagram socket in a temporary directory, exported as NOTIFY_SOCKET (and
// WATCHDOG_USEC when asked) for as long as it lives.
class NotifySocket {
public:
    explicit NotifySocket(const char* watchdog_usec = nullptr) {
        path_ = std::filesystem::temp_directory_path() / ("haven-notify-" + std::to_string(::getpid()) + ".sock");
        std::filesystem::remove(path_);
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        timeval tv{2, 0}; // a missing message fails the test instead of hanging it
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
        if (watchdog_usec) ::setenv("WATCHDOG_USEC", watchdog_usec, 1);
    }
    ~NotifySocket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::unsetenv("WATCHDOG_USEC");
        ::close(fd_);
        std::filesystem::remove(path_);
    }
    std::string next() {
        char buf[4096];
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("<nothing>");
    }

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

} // namespace

TEST(SystemdNotify, ReadyReloadingStoppingAndWatchdogReachTheSocket) {
    NotifySocket sock("4000000");
    SystemdNotifier n;
    ASSERT_TRUE(n.enabled());
    ASSERT_TRUE(n.watchdog_period().has_value());
    EXPECT_EQ(*n.watchdog_period(), 2s); // half of WATCHDOG_USEC
    n.ready("serving");
    EXPECT_EQ(sock.next(), "READY=1\nSTATUS=serving");
    n.reloading(haven::TimePoint{} + 5s);
    EXPECT_EQ(sock.next(), "RELOADING=1\nMONOTONIC_USEC=5000000\nSTATUS=reloading");
    n.watchdog();
    EXPECT_EQ(sock.next(), "WATCHDOG=1");
    n.stopping();
    EXPECT_EQ(sock.next(), "STOPPING=1\nSTATUS=draining");
    EXPECT_EQ(n.sent(), 4u);
}

TEST(SystemdNotify, WithoutNotifySocketNothingIsSent) {
    ::unsetenv("NOTIFY_SOCKET");
    SystemdNotifier n;
    EXPECT_FALSE(n.enabled());
    EXPECT_FALSE(n.watchdog_period().has_value());
    n.ready("serving");
    EXPECT_EQ(n.sent(), 0u);
}
