#include "net/address.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

namespace haven::net {

std::optional<asio::ip::tcp::endpoint> resolve(const config::Endpoint& ep, std::string& error) {
    asio::error_code ec;
    auto addr = asio::ip::make_address(ep.host, ec);
    if (!ec) return asio::ip::tcp::endpoint(addr, ep.port);

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(ep.host.c_str(), nullptr, &hints, &res);
    if (rc != 0 || !res) {
        error = "cannot resolve host \"" + ep.host + "\": " + ::gai_strerror(rc);
        return std::nullopt;
    }
    asio::ip::tcp::endpoint out;
    std::memcpy(out.data(), res->ai_addr, res->ai_addrlen);
    out.resize(res->ai_addrlen);
    out.port(ep.port);
    ::freeaddrinfo(res);
    return out;
}

std::string ip_text(const asio::ip::tcp::endpoint& ep) {
    auto addr = ep.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
        return asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).to_string();
    }
    return addr.to_string();
}

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

} // namespace haven::net
