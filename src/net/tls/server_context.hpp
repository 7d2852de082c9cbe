// ServerContext: the OpenSSL side of a listener's `tls:` (docs/tls.md) — one SSL_CTX per
// certificate, chosen by the client's SNI (exact name, then a one-label wildcard, else the first
// certificate), TLS 1.2 and 1.3 only, Mozilla "intermediate" ciphers unless configured, ALPN,
// session resumption (rotating ticket keys and/or a server-side cache) and OCSP stapling.
//
// Built by the config loader, so that a certificate or setting OpenSSL refuses is a config error;
// immutable afterwards and shared by every worker. A connection keeps the context (and its
// certificate) it started with across a reload.
#pragma once

#include "config/schema.hpp"
#include "net/tls/credentials.hpp"
#include "net/tls/ticket_keys.hpp"

#include <memory>
#include <string>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace haven::net::tls {

// Defaults (docs/tls.md): Mozilla's "intermediate" TLS 1.2 suites, all ECDHE or DHE with AEAD.
inline constexpr const char* kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kDefaultCurves = "X25519:prime256v1:secp384r1";

// A problem building a context: which key of the `tls:` mapping it concerns, and what it is.
struct ContextError {
    std::string key;        // e.g. "ciphers", "certificates"
    std::size_t index = 0;  // the certificate's position, for certificates
    std::string message;
};

class ServerContext {
public:
    ~ServerContext();
    ServerContext(const ServerContext&) = delete;
    ServerContext& operator=(const ServerContext&) = delete;

    // `credentials`: one per config.certificates, loaded already. `default_alpn`: the protocols
    // offered when config.alpn is empty.
    static std::shared_ptr<const ServerContext> build(const config::TlsListener& config,
                                                      std::vector<std::shared_ptr<const Credentials>> credentials,
                                                      const std::vector<std::string>& default_alpn,
                                                      std::shared_ptr<TicketKeys> keys, ContextError& error);

    // A new server-side connection state, or null (out of memory).
    SSL* new_ssl() const;
    // The earliest expiry over the certificates (Unix seconds), for the admin API and metrics.
    std::int64_t earliest_expiry() const;
    const std::vector<std::shared_ptr<const Credentials>>& credentials() const { return credentials_; }

    // Used by the OpenSSL callbacks (server_context.cpp).
    struct Entry {
        SSL_CTX* ctx = nullptr;
        std::shared_ptr<const Credentials> credentials;
    };
    const Entry* for_name(const char* server_name) const;
    const std::string& alpn_wire() const { return alpn_wire_; }
    TicketKeys* ticket_keys() const { return keys_.get(); }

private:
    ServerContext() = default;
    std::vector<Entry> entries_; // [0]: the default
    std::vector<std::shared_ptr<const Credentials>> credentials_;
    std::string alpn_wire_;      // length-prefixed protocol names
    std::shared_ptr<TicketKeys> keys_;
};

// ALPN names as the wire wants them ("\x08http/1.1"); false if a name is empty or longer than 255.
bool alpn_wire(const std::vector<std::string>& names, std::string& out);

} // namespace haven::net::tls
