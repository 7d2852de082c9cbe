#include "net/doorbell.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace haven::net {
namespace {

int open_eventfd() {
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    return fd;
}

} // namespace

// The stream_descriptor owns the eventfd (and closes it); fd_ is the same descriptor, kept as a
// plain int so that ring() on another thread touches no Asio object.
Doorbell::Doorbell(asio::io_context& io) : fd_(open_eventfd()), watch_(io, fd_) {}

Doorbell::~Doorbell() {
    asio::error_code ignored;
    watch_.close(ignored);
}

void Doorbell::start(std::function<void()> on_ring) {
    on_ring_ = std::move(on_ring);
    arm();
}

void Doorbell::ring() {
    const std::uint64_t one = 1;
    // Can only fail if the counter would overflow (2^64 - 2 rings unanswered): then it is set.
    [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
}

void Doorbell::arm() {
    watch_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const asio::error_code& ec) {
        if (ec) return; // closed: the loop is going away
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t n = ::read(fd_, &count, sizeof count); // resets the counter
        arm();
        on_ring_();
    });
}

} // namespace haven::net
