// ClientContext: the OpenSSL side of a pool's `tls:` (docs/tls.md) — haven as a TLS client of
// its servers and of their health checks. Verification is on by default (the system trust store
// or ca_file, and the server's name: server_name, else the host of the server's address); a
// client certificate is presented when configured (mTLS). Built by the config loader; immutable.
#pragma once

#include "config/schema.hpp"
#include "net/tls/credentials.hpp"
#include "net/tls/server_context.hpp"

#include <memory>
#include <string>

namespace haven::net::tls {

class Channel;

class ClientContext {
public:
    ~ClientContext();
    ClientContext(const ClientContext&) = delete;
    ClientContext& operator=(const ClientContext&) = delete;

    // `client`: the client certificate, or null. `now`: Unix seconds.
    static std::shared_ptr<const ClientContext> build(const config::TlsUpstream& config,
                                                      std::shared_ptr<const Credentials> client, ContextError& error);

    // A new client-side connection state for a server: SNI and the verified name are
    // config.server_name when set, else `host` (an IP literal is verified as an address and sent
    // without SNI). Null when out of memory.
    SSL* new_ssl(const std::string& host) const;
    bool verify() const { return verify_; }

private:
    ClientContext() = default;
    SSL_CTX* ctx_ = nullptr;
    std::string server_name_;
    bool verify_ = true;
    std::shared_ptr<const Credentials> client_;
};

// A channel for a new connection on `fd` to a server whose address's host is `host` (see
// new_ssl); it keeps `context` alive. Null when OpenSSL is out of memory.
std::unique_ptr<Channel> client_channel(const std::shared_ptr<const ClientContext>& context, int fd,
                                        const std::string& host);

} // namespace haven::net::tls
