// TcpSession: one client connection on a `mode: tcp` listener — pick a server with the pool's
// balancer (hash: on the source address), connect (trying other servers when a connect fails),
// then relay bytes both ways until both sides are done or timeouts.client_idle passes without a
// byte in either direction.
#pragma once

#include "net/io.hpp"
#include "proxy/session.hpp"
#include "proxy/worker_context.hpp"

#include <asio/ip/tcp.hpp>

namespace haven::proxy {

class TcpSession final : public Session {
public:
    TcpSession(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener);
    ~TcpSession() override;
    static net::awaitable<void> serve(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener);

    bool idle() const override { return false; } // a relay is never "between requests"
    TimePoint idle_since() const override { return {}; }
    void close_idle() override {}
    void on_drain() override {} // relays run until they end or the drain timeout passes
    void force_close() override;
    void on_servers_shut(const upstream::PoolRuntime& pool) override;

private:
    net::awaitable<void> run();
    net::awaitable<bool> connect_upstream(upstream::PoolRuntime& pool);
    upstream::HostIndex pick_now(upstream::PoolRuntime& pool, const upstream::PickRequest& pr);
    net::awaitable<upstream::HostIndex> wait_for_server(upstream::PoolRuntime& pool, const upstream::PickRequest& pr);
    net::awaitable<bool> handshake();
    net::awaitable<bool> upstream_handshake(const std::shared_ptr<const net::tls::ClientContext>& tls,
                                            const std::string& host);
    static void on_deadline(Deadline* d);

    WorkerContext& w_;
    net::Stream client_;
    net::Stream server_;
    std::uint32_t listener_;
    ListenerMetrics* metrics_;
    std::string client_ip_;
    Deadline deadline_;
    bool timed_out_ = false;
    bool shut_ = false; // on_servers_shut ended the relay
    upstream::HostIndex host_ = upstream::kNoHost;
    upstream::PoolRuntime* pool_ = nullptr; // while relaying: the pool of host_
    std::string tried_;
    std::uint8_t attempts_ = 0;
    ResponseFlag flag_ = ResponseFlag::None;
};

} // namespace haven::proxy
