#include "net/tls/server_context.hpp"

#include "core/clock.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <cstring>

namespace haven::net::tls {
namespace {

// Where each SSL_CTX keeps a pointer to its ServerContext (for the ticket callback).
int context_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

bool name_matches(const std::string& pattern, std::string_view name) {
    if (pattern == name) return true;
    // "*.example.com" matches exactly one more label: "a.example.com", not "a.b.example.com".
    if (pattern.size() < 3 || pattern[0] != '*' || pattern[1] != '.') return false;
    const auto dot = name.find('.');
    return dot != std::string_view::npos && dot > 0 && name.substr(dot) == std::string_view(pattern).substr(1);
}

int on_server_name(SSL* ssl, int* /*alert*/, void* arg) {
    const auto* sc = static_cast<const ServerContext*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const auto* e = sc->for_name(name);
    if (e && e->ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, e->ctx);
    return SSL_TLSEXT_ERR_OK; // an unknown name gets the default certificate (as nginx does)
}

int on_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
            void* arg) {
    const auto* sc = static_cast<const ServerContext*>(arg);
    const std::string& ours = sc->alpn_wire();
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(ours.data()),
                              static_cast<unsigned int>(ours.size()), in, inlen) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK; // no protocol in common: go on without ALPN (HTTP/1.1 by default)
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

int on_status_request(SSL* ssl, void* arg) {
    const auto* c = static_cast<const Credentials*>(arg);
    if (!c || c->ocsp().empty()) return SSL_TLSEXT_ERR_NOACK;
    auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(c->ocsp().size()));
    if (!copy) return SSL_TLSEXT_ERR_NOACK;
    std::memcpy(copy, c->ocsp().data(), c->ocsp().size());
    SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(c->ocsp().size())); // OpenSSL frees it
    return SSL_TLSEXT_ERR_OK;
}

// AES-256-CBC fetched once: EVP_aes_256_cbc() is looked up in the provider store at every
// EVP_*Init_ex, once per ticket sealed or opened.
const EVP_CIPHER* ticket_cipher() {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
    return cipher ? cipher : EVP_aes_256_cbc();
}

bool set_mac_key(EVP_MAC_CTX* mac, const TicketKey& k) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(k.hmac.data()), k.hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(mac, params) == 1;
}

// OpenSSL's ticket-key callback: 1 sealed/opened, 2 opened with an older key (issue a new
// ticket), 0 unknown key (full handshake), -1 error.
int on_ticket_key(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                  int enc) {
    const auto* sc = static_cast<const ServerContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
    if (!sc || !sc->ticket_keys()) return -1;
    const std::int64_t now_ms = wall_time_us() / 1000;
    TicketKey k;
    if (enc) {
        k = sc->ticket_keys()->current(now_ms);
        std::memcpy(name, k.name.data(), k.name.size());
        if (RAND_bytes(iv, 16) != 1) return -1;
        if (EVP_EncryptInit_ex(cipher, ticket_cipher(), nullptr, k.aes.data(), iv) != 1) return -1;
        return set_mac_key(mac, k) ? 1 : -1;
    }
    const auto found = sc->ticket_keys()->find(name, now_ms, k);
    if (found == TicketKeys::Found::No) return 0;
    if (!set_mac_key(mac, k)) return -1;
    if (EVP_DecryptInit_ex(cipher, ticket_cipher(), nullptr, k.aes.data(), iv) != 1) return -1;
    // TLS 1.3: OpenSSL sends new tickets after a resumption only when asked to (2), and a TLS 1.3
    // client does not offer the same ticket twice. Answering 1 there made every other connection
    // of a client that keeps its latest session (wrk, browsers) a full handshake.
    if (SSL_version(ssl) >= TLS1_3_VERSION) return 2;
    return found == TicketKeys::Found::Current ? 1 : 2;
}

// Everything but the certificate, shared by every entry's SSL_CTX.
bool configure(SSL_CTX* ctx, const config::TlsListener& c, ContextError& error) {
    SSL_CTX_set_min_proto_version(ctx, c.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    // No renegotiation (a client-driven CPU cost), no compression (CRIME).
    // A peer that closes without close_notify reads as end of stream: HTTP framing, not TLS,
    // tells a cut-off message (most HTTP/1.1 clients close that way).
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (!c.session_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    // Idle connections give their OpenSSL buffers back (as nginx and HAProxy do).
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    const std::string ciphers = c.ciphers.empty() ? kIntermediateCiphers : c.ciphers;
    if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
        error = {"ciphers", 0, openssl_error("no cipher in the list is known") + " in \"" + ciphers + "\""};
        return false;
    }
    if (!c.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, c.ciphersuites.c_str()) != 1) {
        error = {"ciphersuites", 0, openssl_error("no TLS 1.3 suite in the list is known") + " in \"" + c.ciphersuites + "\""};
        return false;
    }
    const std::string curves = c.curves.empty() ? kDefaultCurves : c.curves;
    if (SSL_CTX_set1_groups_list(ctx, curves.c_str()) != 1) {
        error = {"curves", 0, openssl_error("unknown group") + " in \"" + curves + "\""};
        return false;
    }
    SSL_CTX_set_dh_auto(ctx, 1);
    if (c.session_cache > 0) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, c.session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    static const unsigned char kSid[] = "haven";
    SSL_CTX_set_session_id_context(ctx, kSid, sizeof kSid - 1);
    return true;
}

bool use_credentials(SSL_CTX* ctx, const Credentials& cr, std::size_t index, ContextError& error) {
    bool ok = SSL_CTX_use_certificate(ctx, cr.leaf()) == 1;
    for (X509* c : cr.chain()) ok = ok && SSL_CTX_add1_chain_cert(ctx, c) == 1;
    ok = ok && SSL_CTX_use_PrivateKey(ctx, cr.key()) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    if (!ok) error = {"certificates", index, openssl_error("OpenSSL refused the certificate or key")};
    return ok;
}

} // namespace

bool alpn_wire(const std::vector<std::string>& names, std::string& out) {
    out.clear();
    for (const auto& n : names) {
        if (n.empty() || n.size() > 255) return false;
        out.push_back(static_cast<char>(n.size()));
        out += n;
    }
    return true;
}

ServerContext::~ServerContext() {
    for (auto& e : entries_) SSL_CTX_free(e.ctx);
}

std::shared_ptr<const ServerContext> ServerContext::build(const config::TlsListener& config,
                                                          std::vector<std::shared_ptr<const Credentials>> credentials,
                                                          const std::vector<std::string>& default_alpn,
                                                          std::shared_ptr<TicketKeys> keys, ContextError& error) {
    std::shared_ptr<ServerContext> sc(new ServerContext());
    ERR_clear_error();
    if (!tls::alpn_wire(config.alpn.empty() ? default_alpn : config.alpn, sc->alpn_wire_)) {
        error = {"alpn", 0, "protocol names must be 1 to 255 bytes long"};
        return nullptr;
    }
    sc->keys_ = config.session_tickets ? std::move(keys) : nullptr;
    sc->credentials_ = std::move(credentials);
    for (std::size_t i = 0; i < sc->credentials_.size(); ++i) {
        SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx) {
            error = {"certificates", i, openssl_error("cannot create an SSL context")};
            return nullptr;
        }
        sc->entries_.push_back({ctx, sc->credentials_[i]});
        if (!configure(ctx, config, error) || !use_credentials(ctx, *sc->credentials_[i], i, error)) return nullptr;
        SSL_CTX_set_ex_data(ctx, context_index(), sc.get());
        SSL_CTX_set_tlsext_servername_callback(ctx, on_server_name);
        SSL_CTX_set_tlsext_servername_arg(ctx, sc.get());
        if (!sc->alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx, on_alpn, sc.get());
        SSL_CTX_set_tlsext_status_cb(ctx, on_status_request);
        SSL_CTX_set_tlsext_status_arg(ctx, const_cast<Credentials*>(sc->credentials_[i].get()));
        if (sc->keys_) SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
    }
    if (sc->entries_.empty()) {
        error = {"certificates", 0, "at least one certificate is needed"};
        return nullptr;
    }
    return sc;
}

SSL* ServerContext::new_ssl() const {
    SSL* ssl = SSL_new(entries_.front().ctx);
    if (ssl) SSL_set_accept_state(ssl);
    return ssl;
}

const ServerContext::Entry* ServerContext::for_name(const char* server_name) const {
    if (!server_name || !*server_name) return nullptr;
    char lower[256];
    std::size_t n = 0;
    for (; server_name[n] && n < sizeof lower; ++n) {
        const char ch = server_name[n];
        lower[n] = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    }
    const std::string_view name(lower, n);
    for (const auto& e : entries_) {
        for (const auto& pattern : e.credentials->names()) {
            if (pattern == name) return &e;
        }
    }
    for (const auto& e : entries_) {
        for (const auto& pattern : e.credentials->names()) {
            if (name_matches(pattern, name)) return &e;
        }
    }
    return nullptr;
}

std::int64_t ServerContext::earliest_expiry() const {
    std::int64_t t = 0;
    for (const auto& c : credentials_) {
        if (t == 0 || c->not_after() < t) t = c->not_after();
    }
    return t;
}

} // namespace haven::net::tls
