#include "admin/ctl.hpp"

#include "config/yaml_loader.hpp"
#include "http/parser.hpp"
#include "net/address.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace haven::admin {
namespace {

using nlohmann::json;

int connect_with_timeout(const asio::ip::tcp::endpoint& ep, double timeout_s, std::string& error) {
    const int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::strerror(errno);
        return -1;
    }
    if (::connect(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0 && errno != EINPROGRESS) {
        error = std::strerror(errno);
        ::close(fd);
        return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (::poll(&p, 1, static_cast<int>(timeout_s * 1000)) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 ||
        soerr != 0) {
        error = soerr ? std::strerror(soerr) : "connect timed out";
        ::close(fd);
        return -1;
    }
    ::fcntl(fd, F_SETFL, 0); // blocking again, bounded by the timeouts below
    timeval tv{static_cast<time_t>(timeout_s), static_cast<suseconds_t>((timeout_s - static_cast<int>(timeout_s)) * 1e6)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

} // namespace

bool http_call(const std::string& address, const std::string& method, const std::string& target,
               const std::string& token, const std::string& body, double timeout_s, HttpReply& reply,
               std::string& error) {
    const auto endpoint = config::parse_endpoint(address);
    if (!endpoint) {
        error = "invalid admin address \"" + address + "\" (expected host:port)";
        return false;
    }
    const auto ep = net::resolve(*endpoint, error);
    if (!ep) return false;
    const int fd = connect_with_timeout(*ep, timeout_s, error);
    if (fd < 0) {
        error = "cannot reach the admin listener at " + address + ": " + error;
        return false;
    }
    std::string req = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: haven-ctl\r\nConnection: close\r\n"
                                  "Content-Length: {}\r\n",
                                  method, target, address, body.size());
    if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
    if (!body.empty()) req += "Content-Type: application/json\r\n";
    req += "\r\n" + body;
    std::string in;
    bool ok = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
    char buf[16384];
    for (ssize_t n; ok && (n = ::recv(fd, buf, sizeof buf, 0)) != 0;) {
        if (n < 0) {
            ok = false;
            break;
        }
        in.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    std::vector<http::Header> fields(100);
    http::ResponseParser parser({1 << 20, 8192}, fields);
    http::ResponseHead head;
    if (!ok || parser.parse(in, head, http::Method::Get) != http::ParseStatus::Complete) {
        error = "no valid HTTP response from " + address + (ok ? "" : std::string(": ") + std::strerror(errno));
        return false;
    }
    reply.status = head.status;
    reply.body = in.substr(head.head_size);
    return true;
}

} // namespace haven::admin
