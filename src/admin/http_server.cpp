#include "admin/http_server.hpp"

#include "http/local_reply.hpp"
#include "http/parser.hpp"
#include "net/io.hpp"
#include "net/listener.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace haven::admin {
namespace {

constexpr std::size_t kMaxBody = 1 << 20;
constexpr auto kIdle = std::chrono::seconds(30);

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower(c);
    return out;
}

std::string url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i] == '+' ? ' ' : s[i]);
        }
    }
    return out;
}

Request to_request(const http::RequestHead& h, asio::ip::address peer) {
    Request r;
    r.method = std::string(h.method_text);
    r.path = url_decode(h.path);
    r.query = std::string(h.query);
    for (const auto& f : h.headers) {
        auto& v = r.headers[lowercase(f.name)];
        v = v.empty() ? std::string(f.value) : v + ", " + std::string(f.value);
    }
    r.peer = peer;
    return r;
}

} // namespace

std::string Request::header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

std::string Request::param(const std::string& name) const {
    std::size_t pos = 0;
    while (pos <= query.size()) {
        const auto amp = query.find('&', pos);
        const std::string_view part = std::string_view(query).substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        const auto eq = part.find('=');
        if (url_decode(part.substr(0, eq)) == name) return eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1));
        if (amp == std::string::npos) break;
        pos = amp + 1;
    }
    return {};
}

bool Request::has_param(const std::string& name) const {
    std::size_t pos = 0;
    while (pos <= query.size()) {
        const auto amp = query.find('&', pos);
        const std::string_view part = std::string_view(query).substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        if (url_decode(part.substr(0, part.find('='))) == name) return true;
        if (amp == std::string::npos) break;
        pos = amp + 1;
    }
    return false;
}

Response Response::json(int status, std::string body) { return Response{status, "application/json", std::move(body), {}}; }

Response Response::error(int status, const std::string& message) {
    return json(status, nlohmann::json{{"error", message}}.dump() + "\n");
}

Response Response::text(int status, std::string body, std::string type) {
    return Response{status, std::move(type), std::move(body), {}};
}

std::string serialize(const Response& r, bool keep_alive, bool head_request) {
    std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n",
                                  r.status, http::reason_phrase(r.status), r.content_type, r.body.size());
    for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
    if (!keep_alive) out += "Connection: close\r\n";
    out += "\r\n";
    if (!head_request) out += r.body;
    return out;
}

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
    State(asio::io_context& i, Handler h) : io(i), handler(std::move(h)), acceptor(i) {}
    asio::io_context& io;
    Handler handler;
    asio::ip::tcp::acceptor acceptor;
    bool stopped = false;

    net::awaitable<void> accept_loop();
    net::awaitable<void> serve(asio::ip::tcp::socket s);
};

HttpServer::HttpServer(asio::io_context& io, Handler handler) : state_(std::make_shared<State>(io, std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

asio::ip::tcp::endpoint HttpServer::listen(const asio::ip::tcp::endpoint& ep) {
    try {
        state_->acceptor = net::open_listener(state_->io, ep, 128);
    } catch (const std::system_error& e) {
        throw std::runtime_error(std::string("admin: ") + e.what());
    }
    asio::co_spawn(state_->io, state_->accept_loop(), asio::detached);
    return state_->acceptor.local_endpoint();
}

void HttpServer::stop() {
    if (!state_ || state_->stopped) return;
    state_->stopped = true;
    asio::error_code ignored;
    state_->acceptor.close(ignored);
}

net::awaitable<void> HttpServer::State::accept_loop() {
    auto self = shared_from_this();
    for (;;) {
        auto [ec, sock] = co_await acceptor.async_accept(net::use_nothrow);
        if (ec) {
            if (stopped || !acceptor.is_open()) co_return;
            continue;
        }
        asio::co_spawn(io, serve(std::move(sock)), asio::detached);
    }
}

// One connection: requests in order, until the client closes, sends garbage, or idles 30 s.
net::awaitable<void> HttpServer::State::serve(asio::ip::tcp::socket sock) {
    auto self = shared_from_this();
    // Shared so that an idle-timeout handler still queued after this coroutine ended finds the
    // socket gone rather than freed.
    auto owner = std::make_shared<asio::ip::tcp::socket>(std::move(sock));
    auto& s = *owner;
    asio::error_code ec;
    const auto peer = s.remote_endpoint(ec).address();
    asio::steady_timer idle(io);
    std::string in;
    std::vector<http::Header> fields(100);
    http::RequestParser parser({65536, 8192}, fields);
    char buf[16384];
    for (;;) {
        http::RequestHead head;
        parser.reset();
        http::ParseStatus st = in.empty() ? http::ParseStatus::NeedMore : parser.parse(in, head);
        while (st == http::ParseStatus::NeedMore) {
            idle.expires_after(kIdle);
            idle.async_wait([weak = std::weak_ptr<asio::ip::tcp::socket>(owner)](const asio::error_code& e) {
                auto sp = weak.lock();
                asio::error_code ignored;
                if (!e && sp) sp->close(ignored);
            });
            auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), net::use_nothrow);
            idle.cancel();
            if (rec || n == 0) co_return;
            in.append(buf, n);
            st = parser.parse(in, head);
        }
        if (st == http::ParseStatus::Error) {
            const auto out = serialize(Response::error(http::status_for(parser.error()),
                                                       std::string(http::describe(parser.error()))), false, false);
            co_await asio::async_write(s, asio::buffer(out), net::use_nothrow);
            co_return;
        }
        if (head.body == http::BodyKind::Chunked || head.content_length > kMaxBody) {
            const auto out = serialize(Response::error(head.body == http::BodyKind::Chunked ? 411 : 413,
                                                       "admin requests need a Content-Length body of at most 1 MiB"),
                                       false, false);
            co_await asio::async_write(s, asio::buffer(out), net::use_nothrow);
            co_return;
        }
        Request req = to_request(head, peer);
        const bool keep = head.keep_alive();
        const bool is_head = head.method == http::Method::Head;
        const std::size_t need = head.head_size + static_cast<std::size_t>(head.content_length);
        while (in.size() < need) {
            auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), net::use_nothrow);
            if (rec || n == 0) co_return;
            in.append(buf, n);
        }
        req.body = in.substr(head.head_size, static_cast<std::size_t>(head.content_length));
        in.erase(0, need);
        if (req.method == "HEAD") req.method = "GET";
        Response resp;
        try {
            resp = handler(req);
        } catch (const std::exception& e) {
            resp = Response::error(500, e.what());
        }
        const auto out = serialize(resp, keep, is_head);
        auto [wec, wn] = co_await asio::async_write(s, asio::buffer(out), net::use_nothrow);
        if (wec || !keep) co_return;
    }
}

} // namespace haven::admin
