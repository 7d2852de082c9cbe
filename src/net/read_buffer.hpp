// The buffer type every request-path read uses, and why it is not a plain asio::mutable_buffer.
//
// Asio's epoll reactor tries a read at once ("speculatively") whenever one is started, and only
// skips that attempt when the previous read on the socket reported the socket drained. Asio
// 1.22's receive operation reports "drained" only at end of stream, so every read a proxy
// starts before the peer has answered costs a recv() that finds nothing (EAGAIN): 0.7 extra
// syscalls per proxied request at 50 connections.
//
// A short read alone does not prove the socket drained: a FIN that came with the last bytes
// raises no further readiness event, and the next read would wait for one. So haven asks the
// kernel: sockets carry TCP_INQ (set on the listeners, inherited by accepted sockets, and on
// upstream connections), and a ReadBuffer read is a recvmsg() whose control message says how
// many bytes are still queued — 1 when a FIN is pending, so the next read sees end of stream
// at once. Only "fewer bytes than asked for and nothing left" reports drained; any byte that
// arrives later raises a new event under Asio's edge-triggered registration, and Asio
// re-enables the immediate attempt on every event. A socket without TCP_INQ reads as usual.
// (nginx and HAProxy reach the same rule through EPOLLRDHUP, which Asio does not register.)
//
// What the kernel does not report: a reset that arrived together with the last bytes. After
// such a read no further event comes, so a read that skipped its first attempt would wait for
// the connection's deadline. Hence the rule for callers (net::rearm_read in io.hpp): a read that
// continues a message on a socket whose last read reported it drained first re-arms the socket
// (async_wait: one epoll_ctl, which reports data, end of stream and a reset alike — the same one
// syscall as the recv it replaces). A read that starts a message needs no re-arm: an upstream
// response is only awaited after sending the request, and sending on a reset connection fails;
// a client's next request is awaited at most until the connection parks, which re-arms too.
//
// ReadBuffer is a mutable_buffer under its own name, so Asio's receive operation can be given
// the rule for it alone (a specialisation for a haven type; every other read is unchanged).
// The specialisation is written against Asio 1.22.1 (Debian 12) and only enabled for it;
// another Asio version gets plain reads, which are correct, only costlier.
#pragma once

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/error_code.hpp>
#include <asio/version.hpp>

#include <cstddef>

namespace haven::net {

// `drained`: the socket's flag, set by every read to whether it reported the socket drained.
struct ReadBuffer : asio::mutable_buffer {
    ReadBuffer(void* data, std::size_t size, bool* drained = nullptr)
        : asio::mutable_buffer(data, size), drained(drained) {}
    bool* drained;
};

enum class ReadResult { WouldBlock, Done, Drained };

// One non-blocking recvmsg() on a stream socket, as Asio's own receive does it (EINTR retried,
// end of stream as asio::error::eof), and whether the kernel reports the socket now drained.
ReadResult read_reporting_drained(int fd, void* data, std::size_t size, int flags, asio::error_code& ec,
                                  std::size_t& bytes);

// Sets TCP_INQ on a connected or listening socket (best effort: without it reads are plain).
void enable_queue_hint(int fd);

} // namespace haven::net

#if ASIO_VERSION == 102201 && !defined(ASIO_HAS_IOCP) && !defined(ASIO_HAS_IO_URING_AS_DEFAULT)
#define HAVEN_READ_BUFFER_REPORTS_DRAINED 1

#include <asio/socket_base.hpp>
#include <asio/detail/reactive_socket_recv_op.hpp>

namespace asio::detail {

template <>
class reactive_socket_recv_op_base<haven::net::ReadBuffer> : public reactor_op {
public:
    reactive_socket_recv_op_base(const asio::error_code& success_ec, socket_type socket,
                                 socket_ops::state_type state, const haven::net::ReadBuffer& buffer,
                                 socket_base::message_flags flags, func_type complete_func)
        : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
          socket_(socket), stream_((state & socket_ops::stream_oriented) != 0), buffer_(buffer),
          flags_(flags) {}

    static status do_perform(reactor_op* base) {
        auto* o = static_cast<reactive_socket_recv_op_base*>(base);
        if (!o->stream_) { // not used by haven; Asio's own behaviour
            return socket_ops::non_blocking_recv1(o->socket_, o->buffer_.data(), o->buffer_.size(), o->flags_,
                                                  false, o->ec_, o->bytes_transferred_) ? done : not_done;
        }
        const auto r = haven::net::read_reporting_drained(o->socket_, o->buffer_.data(), o->buffer_.size(),
                                                          o->flags_, o->ec_, o->bytes_transferred_);
        if (r == haven::net::ReadResult::WouldBlock) return not_done;
        const bool drained = r == haven::net::ReadResult::Drained;
        if (o->buffer_.drained != nullptr) *o->buffer_.drained = drained;
        if (drained) return done_and_exhausted;
        return o->ec_ == asio::error::eof ? done_and_exhausted : done;
    }

private:
    socket_type socket_;
    bool stream_;
    haven::net::ReadBuffer buffer_;
    socket_base::message_flags flags_;
};

} // namespace asio::detail
#endif
