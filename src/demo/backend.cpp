#include "demo/backend.hpp"

#include "config/yaml_loader.hpp"
#include "core/random.hpp"
#include "demo/backend_handlers.hpp"
#include "http/chunked.hpp"
#include "http/local_reply.hpp"
#include "http/parser.hpp"
#include "net/address.hpp"
#include "net/io.hpp"
#include "net/listener.hpp"
#include "net/socket_options.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace haven::demo {
namespace {

constexpr std::size_t kBufferSize = 64 * 1024;

void count_payload(void* ctx, std::string_view p) { *static_cast<std::uint64_t*>(ctx) += p.size(); }

// Reads and discards the request body, counting payload bytes. Returns false if the client went
// away or the framing was bad. Bytes after the body stay in `in` (next pipelined request).
net::awaitable<bool> consume_body(asio::ip::tcp::socket& s, std::string& in, const http::RequestHead& req,
                                  std::uint64_t& length) {
    length = 0;
    std::vector<char> buf(kBufferSize);
    if (req.body == http::BodyKind::ContentLength) {
        std::uint64_t left = req.content_length;
        const auto have = static_cast<std::size_t>(std::min<std::uint64_t>(left, in.size()));
        in.erase(0, have);
        left -= have;
        length = have;
        while (left > 0) {
            auto [ec, n] = co_await s.async_read_some(
                asio::buffer(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()))), net::use_nothrow);
            if (ec) co_return false;
            left -= n;
            length += n;
        }
        co_return true;
    }
    if (req.body != http::BodyKind::Chunked) co_return true;
    http::ChunkedDecoder dec;
    for (;;) {
        const auto r = dec.feed(in, &count_payload, &length);
        if (r.status == http::ChunkedDecoder::Status::Error) co_return false;
        in.erase(0, r.consumed);
        if (r.status == http::ChunkedDecoder::Status::Done) co_return true;
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), net::use_nothrow);
        if (ec) co_return false;
        in.append(buf.data(), n);
    }
}

// Generates a.stream_bytes bytes of body, with chunked framing when asked.
net::awaitable<asio::error_code> stream_body(asio::ip::tcp::socket& s, const Action& a) {
    static const std::string block(kBufferSize, 'x');
    std::uint64_t left = a.stream_bytes;
    while (left > 0) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
        const std::string size_line = a.chunked ? fmt::format("{:x}\r\n", n) : std::string();
        std::array<asio::const_buffer, 3> parts{asio::buffer(size_line), asio::buffer(block.data(), n),
                                                asio::buffer(a.chunked ? "\r\n" : "", a.chunked ? 2 : 0)};
        auto [ec, written] = co_await asio::async_write(s, parts, net::use_nothrow);
        if (ec) co_return ec;
        left -= n;
    }
    if (a.chunked) {
        auto [ec, written] = co_await asio::async_write(s, asio::buffer("0\r\n\r\n", 5), net::use_nothrow);
        co_return ec;
    }
    co_return asio::error_code{};
}

// Reads one request head into `in`; returns false when the connection ended or was bad (a 400
// was sent for bad input).
net::awaitable<bool> read_head(asio::ip::tcp::socket& s, std::string& in, http::RequestParser& parser,
                               http::RequestHead& req) {
    char buf[16384];
    parser.reset();
    for (;;) {
        if (!in.empty()) {
            const auto st = parser.parse(in, req);
            if (st == http::ParseStatus::Complete) co_return true;
            if (st == http::ParseStatus::Error) {
                char out[512];
                http::LocalReplyOptions o;
                o.close = true;
                o.detail = http::describe(parser.error());
                const auto reply = http::format_local_reply(out, sizeof out, http::status_for(parser.error()), o);
                co_await asio::async_write(s, asio::buffer(reply), net::use_nothrow);
                co_return false;
            }
        }
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), net::use_nothrow);
        if (ec) co_return false;
        in.append(buf, n);
    }
}

net::awaitable<void> serve_connection(asio::ip::tcp::socket s, BackendState& state) {
    net::set_stream_options(s);
    std::string in;
    std::vector<http::Header> headers(200);
    http::RequestParser parser({65536, 16384}, headers);
    http::RequestHead req;
    for (;;) {
        if (!co_await read_head(s, in, parser, req)) break;
        // Copy what the handler needs: the head's views die when `in` is consumed.
        Request r = Request::from(req);
        in.erase(0, req.head_size);
        if (!co_await consume_body(s, in, req, r.body_length)) break;
        ++state.requests;
        // Requests in flight, not counting what tests and checks ask on the side.
        const bool counted = r.path != "/stats" && r.path != "/_control" && r.path != "/health";
        if (counted) state.max_in_flight = std::max(state.max_in_flight, ++state.in_flight);
        const Action a = handle(r, state);
        if (a.delay_ms > 0) {
            asio::steady_timer t(s.get_executor(), std::chrono::milliseconds(a.delay_ms));
            co_await t.async_wait(net::use_nothrow);
        }
        if (a.abort) {
            if (counted) --state.in_flight;
            break; // close without answering
        }
        auto [ec, n] = co_await asio::async_write(s, asio::buffer(a.response), net::use_nothrow);
        if (!ec && (a.stream_bytes > 0 || a.chunked)) ec = co_await stream_body(s, a);
        if (counted) --state.in_flight;
        if (ec || !r.keep_alive || a.close_after) break;
    }
    asio::error_code ignored;
    s.shutdown(asio::socket_base::shutdown_both, ignored);
    s.close(ignored);
}

net::awaitable<void> accept_loop(asio::ip::tcp::acceptor& a, BackendState& state) {
    for (;;) {
        auto [ec, sock] = co_await a.async_accept(net::use_nothrow);
        if (ec) {
            if (!a.is_open()) co_return;
            continue;
        }
        ++state.connections;
        asio::co_spawn(a.get_executor(), serve_connection(std::move(sock), state), asio::detached);
    }
}

} // namespace

int run_backend(const std::string& listen, BackendSettings settings) {
    const auto ep_cfg = config::parse_endpoint(listen);
    if (!ep_cfg) {
        std::fprintf(stderr, "demo-backend: invalid --listen \"%s\" (expected host:port)\n", listen.c_str());
        return 2;
    }
    std::string error;
    const auto ep = net::resolve(*ep_cfg, error);
    if (!ep) {
        std::fprintf(stderr, "demo-backend: %s\n", error.c_str());
        return 1;
    }
    asio::io_context io(1);
    BackendState state(std::move(settings));
    asio::ip::tcp::acceptor acceptor(io);
    try {
        acceptor = net::open_listener(io, *ep, 1024);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "demo-backend: %s\n", e.what());
        return 1;
    }
    const auto bound = acceptor.local_endpoint();
    std::printf("demo-backend %s listening on %s:%u\n", state.settings.name.c_str(), bound.address().to_string().c_str(),
                bound.port());
    std::fflush(stdout);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const asio::error_code&, int) { io.stop(); });
    asio::co_spawn(io, accept_loop(acceptor, state), asio::detached);
    io.run();
    return 0;
}

} // namespace haven::demo
