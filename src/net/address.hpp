// Turning configured endpoints into socket addresses, and socket addresses into text.
#pragma once

#include "config/schema.hpp"

#include <asio/ip/tcp.hpp>

#include <optional>
#include <string>

namespace haven::net {

// Resolves host:port (IP literal or name) to the first address getaddrinfo returns.
// On failure returns nullopt and sets `error` to a readable reason.
std::optional<asio::ip::tcp::endpoint> resolve(const config::Endpoint& ep, std::string& error);

// "127.0.0.1" / "::1" (no port): the form used in X-Forwarded-For and the access log.
std::string ip_text(const asio::ip::tcp::endpoint& ep);

// "127.0.0.1:8080" / "[::1]:8080": the form used in logs and the admin API.
std::string endpoint_text(const asio::ip::tcp::endpoint& ep);

} // namespace haven::net
