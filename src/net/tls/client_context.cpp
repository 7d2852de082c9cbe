#include "net/tls/client_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

namespace haven::net::tls {
namespace {

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

} // namespace

ClientContext::~ClientContext() { SSL_CTX_free(ctx_); }

std::shared_ptr<const ClientContext> ClientContext::build(const config::TlsUpstream& config,
                                                          std::shared_ptr<const Credentials> client, ContextError& error) {
    std::shared_ptr<ClientContext> cc(new ClientContext());
    ERR_clear_error();
    cc->ctx_ = SSL_CTX_new(TLS_client_method());
    if (!cc->ctx_) {
        error = {"tls", 0, openssl_error("cannot create an SSL context")};
        return nullptr;
    }
    SSL_CTX* ctx = cc->ctx_;
    SSL_CTX_set_min_proto_version(ctx, config.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    const std::string ciphers = config.ciphers.empty() ? kIntermediateCiphers : config.ciphers;
    if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
        error = {"ciphers", 0, openssl_error("no cipher in the list is known") + " in \"" + ciphers + "\""};
        return nullptr;
    }
    cc->verify_ = config.verify;
    if (config.verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (!config.ca_file.empty()) {
            if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
                error = {"ca_file", 0, openssl_error("unreadable") + ": cannot load CA certificates from " + config.ca_file};
                return nullptr;
            }
        } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            error = {"ca_file", 0, openssl_error("no system trust store") + " (set ca_file)"};
            return nullptr;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    if (client) {
        bool ok = SSL_CTX_use_certificate(ctx, client->leaf()) == 1;
        for (X509* c : client->chain()) ok = ok && SSL_CTX_add1_chain_cert(ctx, c) == 1;
        ok = ok && SSL_CTX_use_PrivateKey(ctx, client->key()) == 1;
        if (!ok) {
            error = {"cert_file", 0, openssl_error("OpenSSL refused the client certificate")};
            return nullptr;
        }
    }
    cc->client_ = std::move(client);
    cc->server_name_ = config.server_name;
    return cc;
}

SSL* ClientContext::new_ssl(const std::string& host) const {
    SSL* ssl = SSL_new(ctx_);
    if (!ssl) return nullptr;
    SSL_set_connect_state(ssl);
    const std::string& name = server_name_.empty() ? host : server_name_;
    const bool ip = is_ip_literal(name);
    if (!ip && !name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
    if (verify_ && !name.empty()) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (ip) {
            X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
        } else {
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            SSL_set1_host(ssl, name.c_str());
        }
    }
    return ssl;
}

} // namespace haven::net::tls
