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

// The stream_descriptor watches a duplicate, so that it can own (and close) its descriptor while
// ring() keeps writing to the original until the doorbell is destroyed.
Doorbell::Doorbell(asio::io_context& io) : fd_(open_eventfd()), watch_(io) {
    const int dup = ::dup(fd_);
    if (dup < 0) {
        const int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(), "dup eventfd");
    }
    watch_.assign(dup);
}

Doorbell::~Doorbell() {
    asio::error_code ignored;
    watch_.close(ignored);
    ::close(fd_);
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
