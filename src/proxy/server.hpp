// Server: the running proxy — worker threads with their listeners, the control thread (signals,
// reload, shutdown) and the access-log writer. `haven run` is Server{config}.run().
#pragma once

#include "config/schema.hpp"

#include <asio/ip/tcp.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::proxy {

class Server {
public:
    // Builds everything and binds every listener; throws std::runtime_error with a readable
    // message (e.g. "cannot listen on 127.0.0.1:80: Permission denied").
    explicit Server(std::shared_ptr<const config::Config> config);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Serves until SIGTERM or SIGINT (graceful drain) and returns the exit code (0).
    // SIGHUP reloads the configuration file.
    int run();

    // The address each listener is bound to (port resolved when the config says 0).
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> listening() const;
    // The admin listener's address, if there is one.
    std::optional<asio::ip::tcp::endpoint> admin_listening() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace haven::proxy
