// The HTTP probe: one request on a fresh connection (Connection: close), judged by its status and,
// when asked, by a substring of its body. One watchdog timer bounds the whole exchange, so a
// server that accepts and then stalls at any step still fails within the timeout.
#include "upstream/health/probe.hpp"
#include "upstream/health/probe_check.hpp"

#include "http/chunked.hpp"
#include "http/parser.hpp"
#include "net/io.hpp"
#include "net/tls/channel.hpp"
#include "net/tls/client_context.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace haven::upstream {
namespace {

using asio::ip::tcp;

constexpr std::size_t kMaxHead = 16 * 1024;
// Health pages are small; a server streaming more is judged on what fits.
constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::size_t kMaxFields = 64;

// What every check of one probe sends and expects; shared so that a check can finish after its
// probe is gone.
struct Plan {
    std::string request;
    std::vector<StatusRange> expect_status;
    std::string expect_body;
    http::Method method = http::Method::Get; // decides the response framing (HEAD has no body)
    TlsTarget tls;
};

struct HttpCheck : ProbeCheck {
    HttpCheck(asio::io_context& io, std::function<void(ProbeResult)> d, const Clock& c, std::shared_ptr<const Plan> p)
        : ProbeCheck(io, std::move(d), c), plan(std::move(p)) {}
    std::shared_ptr<const Plan> plan;
    std::array<http::Header, kMaxFields> fields{};
    std::array<char, 4096> chunk{};
    std::unique_ptr<net::tls::Channel> tls; // set once connected, when the pool has tls:
};

bool status_accepted(int status, const std::vector<StatusRange>& ranges) {
    // No ranges would reject everything, which no one configures on purpose: use the default.
    if (ranges.empty()) return status >= 200 && status <= 399;
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const StatusRange& r) { return status >= r.lo && status <= r.hi; });
}

// 1xx responses other than 101 are interim: the final response follows on the same connection.
bool is_interim(int status) { return status >= 100 && status < 200 && status != 101; }

// Collects up to kMaxBody payload bytes of a response body, whatever its framing.
class BodyCollector {
public:
    enum class Status : std::uint8_t { NeedMore, Done, Malformed };

    explicit BodyCollector(const http::ResponseHead& head) : kind_(head.body), remaining_(head.content_length) {}

    Status feed(std::string_view data) {
        switch (kind_) {
        case http::BodyKind::None: return Status::Done;
        case http::BodyKind::ContentLength: {
            const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
            keep(data.substr(0, take));
            remaining_ -= take;
            return remaining_ == 0 || full() ? Status::Done : Status::NeedMore;
        }
        case http::BodyKind::Chunked: {
            const auto r = decoder_.feed(data, &BodyCollector::sink, this);
            if (r.status == http::ChunkedDecoder::Status::Error) return Status::Malformed;
            return r.status == http::ChunkedDecoder::Status::Done || full() ? Status::Done : Status::NeedMore;
        }
        case http::BodyKind::UntilClose: keep(data); return full() ? Status::Done : Status::NeedMore;
        }
        return Status::Malformed;
    }
    // Only a body delimited by the close may legitimately end with it; others were cut short.
    bool ends_at_close() const { return kind_ == http::BodyKind::UntilClose; }
    const std::string& body() const { return body_; }

private:
    bool full() const { return body_.size() >= kMaxBody; }
    void keep(std::string_view payload) {
        body_.append(payload.substr(0, kMaxBody - std::min(kMaxBody, body_.size())));
    }
    static void sink(void* self, std::string_view payload) { static_cast<BodyCollector*>(self)->keep(payload); }

    http::BodyKind kind_;
    std::uint64_t remaining_;
    http::ChunkedDecoder decoder_;
    std::string body_;
};

// Appends what the socket has to `buf`; a zero-byte read is reported as eof.
asio::awaitable<asio::error_code> read_more(HttpCheck& c, std::string& buf) {
    auto [ec, n] = c.tls ? co_await c.tls->read_some(c.socket, c.chunk.data(), c.chunk.size(), true)
                         : co_await c.socket.async_read_some(asio::buffer(c.chunk), net::use_nothrow);
    if (!ec && n == 0) ec = asio::error::eof;
    if (!ec) buf.append(c.chunk.data(), n);
    co_return ec;
}

// Reads until a final response head is complete ("" on success, else the failure reason). The
// head is at the front of `buf`, body bytes may follow it.
asio::awaitable<std::string> read_head(HttpCheck& c, std::string& buf, http::ResponseHead& head) {
    http::ResponseParser parser(http::ParserLimits{kMaxHead, kMaxHead}, c.fields);
    for (;;) {
        const auto status = buf.empty() ? http::ParseStatus::NeedMore : parser.parse(buf, head, c.plan->method);
        if (status == http::ParseStatus::Error) co_return "malformed response";
        if (status == http::ParseStatus::Complete && !is_interim(head.status)) co_return "";
        if (status == http::ParseStatus::Complete) {
            buf.erase(0, head.head_size);
            parser.reset();
            head = http::ResponseHead{};
            continue;
        }
        const auto ec = co_await read_more(c, buf);
        if (ec) co_return reason_for(c, ec);
    }
}

// Feeds the body bytes already read, then reads until the body ends or kMaxBody is collected.
asio::awaitable<std::string> read_body(HttpCheck& c, std::string& buf, std::size_t head_size, BodyCollector& body) {
    auto status = body.feed(std::string_view(buf).substr(head_size));
    while (status == BodyCollector::Status::NeedMore) {
        buf.clear();
        const auto ec = co_await read_more(c, buf);
        if (ec == asio::error::eof && body.ends_at_close()) co_return "";
        if (ec) co_return reason_for(c, ec);
        status = body.feed(buf);
    }
    co_return status == BodyCollector::Status::Malformed ? "malformed response" : "";
}

asio::awaitable<asio::error_code> send_request(HttpCheck& c) {
    const auto& request = c.plan->request;
    if (!c.tls) {
        auto [ec, n] = co_await asio::async_write(c.socket, asio::buffer(request), net::use_nothrow);
        co_return ec;
    }
    const asio::const_buffer buf(request.data(), request.size());
    asio::error_code ec;
    if (!c.tls->send_now(&buf, 1, ec) && !ec) ec = co_await c.tls->flush(c.socket);
    co_return ec;
}

asio::awaitable<void> check_once(std::shared_ptr<HttpCheck> c, tcp::endpoint target) {
    // The coroutine starts a queue turn after start(): the probe may have been dropped or timed
    // out meanwhile, and async_connect would reopen the socket that was closed to stop it.
    if (c->finished) co_return;
    if (c->timed_out) co_return finish(*c, ProbeResult{false, "timeout"});
    const Plan& plan = *c->plan;
    if (auto [ec] = co_await c->socket.async_connect(target, net::use_nothrow); ec) {
        co_return finish(*c, ProbeResult{false, reason_for(*c, ec)});
    }
    if (plan.tls.context) {
        if (auto why = co_await tls_handshake(*c, plan.tls, c->tls); !why.empty()) {
            co_return finish(*c, ProbeResult{false, why});
        }
    }
    if (auto ec = co_await send_request(*c); ec) co_return finish(*c, ProbeResult{false, reason_for(*c, ec)});
    std::string buf;
    http::ResponseHead head;
    if (auto why = co_await read_head(*c, buf, head); !why.empty()) co_return finish(*c, ProbeResult{false, why});

    const int status = head.status;
    if (!status_accepted(status, plan.expect_status)) {
        co_return finish(*c, ProbeResult{false, "status " + std::to_string(status), {}, status});
    }
    if (plan.expect_body.empty()) co_return finish(*c, ProbeResult{true, "ok", {}, status});
    BodyCollector body(head);
    if (auto why = co_await read_body(*c, buf, head.head_size, body); !why.empty()) {
        co_return finish(*c, ProbeResult{false, why, {}, status});
    }
    const bool found = body.body().find(plan.expect_body) != std::string::npos;
    finish(*c, ProbeResult{found, found ? "ok" : "body mismatch", {}, status});
}

std::string host_of(const tcp::endpoint& target) {
    const auto addr = target.address();
    const auto ip = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
    return ip + ":" + std::to_string(target.port());
}

std::shared_ptr<const Plan> make_plan(HttpProbeSpec spec, const tcp::endpoint& target) {
    auto plan = std::make_shared<Plan>();
    const std::string host = spec.host.empty() ? host_of(target) : spec.host;
    plan->request = spec.method + " " + spec.path + " HTTP/1.1\r\nHost: " + host +
                    "\r\nUser-Agent: haven-health-check\r\nConnection: close\r\nAccept: */*\r\n\r\n";
    plan->expect_status = std::move(spec.expect_status);
    plan->expect_body = std::move(spec.expect_body);
    plan->method = spec.method == "HEAD" ? http::Method::Head : http::Method::Get;
    plan->tls = std::move(spec.tls);
    return plan;
}

class HttpProbe final : public Probe {
public:
    HttpProbe(asio::io_context& io, tcp::endpoint target, HttpProbeSpec spec, Duration timeout, const Clock& clock)
        : io_(io), target_(target), plan_(make_plan(std::move(spec), target)), timeout_(timeout), clock_(clock) {}
    ~HttpProbe() override { abandon(current_); }

    void start(std::function<void(ProbeResult)> done) override {
        abandon(current_);
        auto check = std::make_shared<HttpCheck>(io_, std::move(done), clock_, plan_);
        current_ = check;
        arm_watchdog(check, timeout_);
        // Owner: the shared HttpCheck; cancellation path: abandon() or the watchdog closes the
        // socket, which fails whatever operation the coroutine waits on.
        asio::co_spawn(io_, check_once(std::move(check), target_), asio::detached);
    }

private:
    asio::io_context& io_;
    tcp::endpoint target_;
    std::shared_ptr<const Plan> plan_;
    Duration timeout_;
    const Clock& clock_;
    std::weak_ptr<ProbeCheck> current_;
};

} // namespace

std::unique_ptr<Probe> make_http_probe(asio::io_context& io, asio::ip::tcp::endpoint target, HttpProbeSpec spec,
                                       Duration timeout, const Clock& clock) {
    return std::make_unique<HttpProbe>(io, target, std::move(spec), timeout, clock);
}

} // namespace haven::upstream
