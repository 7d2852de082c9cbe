// The layer-4 relay: bytes copied both ways between two connected streams (plain or TLS) until
// both directions have ended. An end of stream on one side is passed on as a half-close (shutdown of sending) on
// the other, so protocols that half-close keep working; an error on either side ends both.
#pragma once

#include "net/io.hpp"
#include "net/stream.hpp"

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>

namespace haven::net {

struct RelayResult {
    std::uint64_t a_to_b = 0;
    std::uint64_t b_to_a = 0;
};

// `on_progress` runs whenever bytes arrive in either direction (the caller pushes its inactivity
// deadline forward). Both buffers must have `size` bytes and outlive the relay.
awaitable<RelayResult> relay(Stream& a, Stream& b, char* buf_ab, char* buf_ba,
                             std::size_t size, const std::function<void()>& on_progress);

} // namespace haven::net
