#include "net/read_buffer.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#ifndef TCP_INQ
#define TCP_INQ 36
#endif
#ifndef TCP_CM_INQ
#define TCP_CM_INQ TCP_INQ
#endif

namespace haven::net {

ReadResult read_reporting_drained(int fd, void* data, std::size_t size, int flags, asio::error_code& ec,
                                  std::size_t& bytes) {
    for (;;) {
        iovec iov{data, size};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(fd, &msg, flags);
        if (n < 0) {
            const int err = errno;
            if (err == EINTR) continue;
            if (err == EAGAIN || err == EWOULDBLOCK) return ReadResult::WouldBlock;
            ec.assign(err, asio::error::get_system_category());
            bytes = 0;
            return ReadResult::Done;
        }
        bytes = static_cast<std::size_t>(n);
        if (n == 0) {
            ec = asio::error::eof;
            return ReadResult::Done;
        }
        ec.clear();
        if (bytes == size || (msg.msg_flags & MSG_CTRUNC) != 0) return ReadResult::Done;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                int queued = 0;
                std::memcpy(&queued, CMSG_DATA(c), sizeof queued);
                return queued == 0 ? ReadResult::Drained : ReadResult::Done;
            }
        }
        return ReadResult::Done; // no hint (TCP_INQ not set): say nothing
    }
}

void enable_queue_hint(int fd) {
    const int one = 1;
    (void)::setsockopt(fd, SOL_TCP, TCP_INQ, &one, sizeof one);
}

} // namespace haven::net
