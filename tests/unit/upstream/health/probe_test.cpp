// The TCP and HTTP probes against in-process servers on 127.0.0.1 (kernel-chosen ports). The
// io_context runs inside each test, bounded by run_for; nothing sleeps. Only timeout tests take
// real time, a few hundred milliseconds each.
#include "upstream/health/probe.hpp"

#include "net/io.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::upstream {
namespace {

using asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A clock that advances by `step` on every reading, so `took` is exactly one step.
class StepClock final : public Clock {
public:
    explicit StepClock(Duration step) : step_(step) {}
    TimePoint now() const override { return TimePoint{} + step_ * ++reads_; }

private:
    Duration step_;
    mutable int reads_ = 0;
};

// Accepts any number of connections; on each, reads the request head and then does `mode`. Its
// coroutines share the state, not the server object, so a test may drop the server while a
// connection is still being served.
class TestServer {
public:
    enum class Mode { Respond, CloseAfterRequest, ResetAfterRequest, Silent };

    TestServer(asio::io_context& io, std::string response, Mode mode = Mode::Respond)
        : s_(std::make_shared<State>(io, std::move(response), mode)) {
        asio::co_spawn(io, accept_loop(s_), asio::detached);
    }
    ~TestServer() {
        asio::error_code ignored;
        s_->acceptor.close(ignored);
        for (auto& h : s_->held) h->close(ignored);
    }
    tcp::endpoint endpoint() const { return s_->acceptor.local_endpoint(); }
    const std::vector<std::string>& requests() const { return s_->requests; }
    int accepted() const { return s_->accepted; }

private:
    struct State {
        State(asio::io_context& io, std::string r, Mode m)
            : acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)), response(std::move(r)), mode(m) {}
        tcp::acceptor acceptor;
        const std::string response;
        const Mode mode;
        std::vector<std::string> requests;
        std::vector<std::shared_ptr<tcp::socket>> held;
        int accepted = 0;
    };

    static asio::awaitable<void> accept_loop(std::shared_ptr<State> s) {
        for (;;) {
            auto [ec, sock] = co_await s->acceptor.async_accept(net::use_nothrow);
            if (ec) co_return;
            ++s->accepted;
            asio::co_spawn(s->acceptor.get_executor(), serve(s, std::make_shared<tcp::socket>(std::move(sock))),
                           asio::detached);
        }
    }

    static asio::awaitable<void> serve(std::shared_ptr<State> s, std::shared_ptr<tcp::socket> sock) {
        std::string req;
        char buf[1024];
        while (req.find("\r\n\r\n") == std::string::npos) {
            auto [ec, n] = co_await sock->async_read_some(asio::buffer(buf), net::use_nothrow);
            if (ec) co_return;
            req.append(buf, n);
        }
        s->requests.push_back(req);
        asio::error_code ignored;
        switch (s->mode) {
        case Mode::Silent: s->held.push_back(sock); co_return;
        case Mode::CloseAfterRequest: co_return;
        case Mode::ResetAfterRequest:
            sock->set_option(asio::socket_base::linger(true, 0), ignored);
            sock->close(ignored);
            co_return;
        case Mode::Respond: break;
        }
        co_await asio::async_write(*sock, asio::buffer(s->response), net::use_nothrow);
        sock->shutdown(tcp::socket::shutdown_send, ignored);
        // Wait for the probe to close its side, so the close never races the response.
        co_await sock->async_read_some(asio::buffer(buf), net::use_nothrow);
    }

    std::shared_ptr<State> s_;
};

tcp::endpoint closed_port() {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    return a.local_endpoint(); // closed when `a` goes
}

class ProbeTest : public ::testing::Test {
protected:
    ProbeResult run(Probe& p) {
        std::optional<ProbeResult> out;
        int calls = 0;
        p.start([&](ProbeResult r) {
            ++calls;
            out = std::move(r);
            io.stop();
        });
        io.run_for(seconds(5));
        io.restart();
        EXPECT_EQ(calls, 1);
        if (!out) return ProbeResult{false, "no result"};
        return *out;
    }
    ProbeResult http(const std::string& response, HttpProbeSpec spec = {}, Duration timeout = seconds(2)) {
        TestServer server(io, response);
        auto p = make_http_probe(io, server.endpoint(), std::move(spec), timeout);
        auto r = run(*p);
        last_requests = server.requests();
        return r;
    }
    static HttpProbeSpec expect_body(std::string body) {
        HttpProbeSpec s;
        s.expect_body = std::move(body);
        return s;
    }

    asio::io_context io; // declared first: outlives the servers and probes of each test
    std::vector<std::string> last_requests;
};

// --- TCP -----------------------------------------------------------------------------------

TEST_F(ProbeTest, TcpConnectsToAListeningServer) {
    TestServer server(io, "", TestServer::Mode::Silent);
    StepClock clock(milliseconds(7));
    auto p = make_tcp_probe(io, server.endpoint(), seconds(2), clock);
    const auto r = run(*p);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.reason, "ok");
    EXPECT_EQ(r.took, milliseconds(7));
}

TEST_F(ProbeTest, TcpRefusedOnAClosedPort) {
    auto p = make_tcp_probe(io, closed_port(), seconds(2));
    const auto r = run(*p);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reason, "connection refused");
}

// A listener with a full accept queue drops new SYNs (Linux), so the handshake never completes:
// the one way to get a connect timeout on loopback.
TEST_F(ProbeTest, TcpTimesOutWhenTheHandshakeStalls) {
    tcp::acceptor full(io);
    full.open(tcp::v4());
    full.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    full.listen(0);
    tcp::socket filler(io);
    filler.connect(full.local_endpoint()); // fills the queue of one; never accepted
    auto p = make_tcp_probe(io, full.local_endpoint(), milliseconds(200));
    const auto r = run(*p);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reason, "timeout");
    EXPECT_GE(r.took, milliseconds(200));
}

TEST_F(ProbeTest, TcpOpensAFreshConnectionPerCheck) {
    TestServer server(io, "", TestServer::Mode::Silent);
    auto p = make_tcp_probe(io, server.endpoint(), seconds(2));
    EXPECT_TRUE(run(*p).ok);
    EXPECT_TRUE(run(*p).ok);
    while (server.accepted() < 2 && io.run_one_for(seconds(2)) > 0) {
    }
    EXPECT_EQ(server.accepted(), 2);
}

// --- HTTP: request and status ----------------------------------------------------------------

TEST_F(ProbeTest, HttpOkAndTheExactRequest) {
    TestServer server(io, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    StepClock clock(milliseconds(3));
    auto p = make_http_probe(io, server.endpoint(), {}, seconds(2), clock);
    const auto r = run(*p);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.reason, "ok");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.took, milliseconds(3));
    ASSERT_EQ(server.requests().size(), 1u);
    const std::string host = "127.0.0.1:" + std::to_string(server.endpoint().port());
    EXPECT_EQ(server.requests()[0], "GET /health HTTP/1.1\r\nHost: " + host +
                                        "\r\nUser-Agent: haven-health-check\r\nConnection: close\r\n"
                                        "Accept: */*\r\n\r\n");
}

TEST_F(ProbeTest, HttpMethodPathAndHostFromTheSpec) {
    HttpProbeSpec spec;
    spec.method = "HEAD";
    spec.path = "/ready?deep=1";
    spec.host = "api.internal";
    // A HEAD response announces a length but has no body: the probe must not wait for one.
    EXPECT_TRUE(http("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", spec).ok);
    ASSERT_EQ(last_requests.size(), 1u);
    EXPECT_EQ(last_requests[0].rfind("HEAD /ready?deep=1 HTTP/1.1\r\nHost: api.internal\r\n", 0), 0u);
}

TEST_F(ProbeTest, HttpUnexpectedStatusFails) {
    const auto r = http("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reason, "status 503");
    EXPECT_EQ(r.status, 503);
}

TEST_F(ProbeTest, HttpStatusRanges) {
    const std::string redirect = "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n";
    EXPECT_TRUE(http(redirect).ok); // default 200-399
    HttpProbeSpec only200;
    only200.expect_status = {{200, 200}};
    EXPECT_EQ(http(redirect, only200).reason, "status 302");
    HttpProbeSpec two;
    two.expect_status = {{200, 200}, {300, 302}};
    EXPECT_TRUE(http(redirect, two).ok);
}

TEST_F(ProbeTest, HttpInterimResponseIsSkipped) {
    const auto r = http("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.status, 204);
}

// --- HTTP: body ------------------------------------------------------------------------------

TEST_F(ProbeTest, HttpBodyWithContentLength) {
    const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"UP\"}";
    EXPECT_TRUE(http(resp, expect_body("\"UP\"")).ok);
    const auto r = http(resp, expect_body("DOWN"));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reason, "body mismatch");
    EXPECT_EQ(r.status, 200);
}

TEST_F(ProbeTest, HttpChunkedBodyMatchesAcrossChunks) {
    const std::string resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "4;ext=1\r\nall \r\n6\r\ngood!!\r\n0\r\nX-Trailer: t\r\n\r\n";
    EXPECT_TRUE(http(resp, expect_body("all good")).ok);
    EXPECT_EQ(http(resp, expect_body("6\r\n")).reason, "body mismatch"); // framing is not body
}

TEST_F(ProbeTest, HttpBodyUntilClose) {
    EXPECT_TRUE(http("HTTP/1.1 200 OK\r\n\r\nhealthy and well", expect_body("well")).ok);
    EXPECT_EQ(http("HTTP/1.0 200 OK\r\n\r\nsick", expect_body("well")).reason, "body mismatch");
}

TEST_F(ProbeTest, HttpBodyIsJudgedOnItsFirst64KiB) {
    const std::string big(70 * 1024, 'a');
    const auto head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size() + 4) + "\r\n\r\n";
    EXPECT_EQ(http(head + big + "MARK", expect_body("MARK")).reason, "body mismatch");
    const std::string small(1000, 'a');
    const auto head2 = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(small.size() + 4) + "\r\n\r\n";
    EXPECT_TRUE(http(head2 + small + "MARK", expect_body("MARK")).ok);
}

// --- HTTP: failures --------------------------------------------------------------------------

TEST_F(ProbeTest, HttpMalformedResponse) {
    EXPECT_EQ(http("HTTP/1.1 2OO OK\r\n\r\n").reason, "malformed response");
    EXPECT_EQ(http("hello there\r\n\r\n").reason, "malformed response");
    EXPECT_EQ(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", expect_body("x")).reason,
              "malformed response");
}

TEST_F(ProbeTest, HttpServerClosesEarly) {
    TestServer server(io, "", TestServer::Mode::CloseAfterRequest);
    auto p = make_http_probe(io, server.endpoint(), {}, seconds(2));
    EXPECT_EQ(run(*p).reason, "connection closed");
    EXPECT_EQ(http("HTTP/1.1 200 OK\r\nContent-").reason, "connection closed");
    EXPECT_EQ(http("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", expect_body("x")).reason,
              "connection closed");
}

TEST_F(ProbeTest, HttpServerResets) {
    TestServer server(io, "", TestServer::Mode::ResetAfterRequest);
    auto p = make_http_probe(io, server.endpoint(), {}, seconds(2));
    EXPECT_EQ(run(*p).reason, "connection reset");
}

TEST_F(ProbeTest, HttpRefused) {
    auto p = make_http_probe(io, closed_port(), {}, seconds(2));
    EXPECT_EQ(run(*p).reason, "connection refused");
}

TEST_F(ProbeTest, HttpServerThatNeverAnswersTimesOut) {
    TestServer server(io, "", TestServer::Mode::Silent);
    auto p = make_http_probe(io, server.endpoint(), {}, milliseconds(150));
    const auto r = run(*p);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reason, "timeout");
    EXPECT_GE(r.took, milliseconds(150));
    EXPECT_LT(r.took, seconds(2));
    EXPECT_EQ(server.requests().size(), 1u); // it was the answer that stalled
}

TEST_F(ProbeTest, DestroyedProbeNeverCallsBack) {
    TestServer server(io, "", TestServer::Mode::Silent);
    auto p = make_http_probe(io, server.endpoint(), {}, milliseconds(50));
    bool called = false;
    p->start([&](ProbeResult) { called = true; });
    while (server.requests().empty() && io.run_one_for(seconds(2)) > 0) {
    }
    ASSERT_EQ(server.requests().size(), 1u);
    p.reset();
    io.run_for(milliseconds(150)); // past the timeout: nothing may fire
    EXPECT_FALSE(called);
}

TEST_F(ProbeTest, ProbeMayBeDestroyedFromItsOwnCallback) {
    TestServer server(io, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    auto p = make_http_probe(io, server.endpoint(), {}, seconds(2));
    bool ok = false;
    p->start([&](ProbeResult r) {
        ok = r.ok;
        p.reset();
        io.stop();
    });
    io.run_for(seconds(5));
    EXPECT_TRUE(ok);
    EXPECT_EQ(p, nullptr);
}

} // namespace
} // namespace haven::upstream
