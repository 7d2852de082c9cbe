// Channel: one TLS connection's state (an OpenSSL SSL object) driven over a socket that Asio owns.
//
// OpenSSL never touches the socket itself. It reads ciphertext from a small input buffer that
// the channel fills with the same Asio reads the plain path uses (net::ReadBuffer, so a socket
// known to be drained is not read speculatively), and writes ciphertext through a BIO that sends
// at once (one non-blocking send() per TLS write, as a socket BIO would) and keeps only what the
// kernel did not take, for flush(). So a TLS request costs the plain request's syscalls, and the
// request path gets its errors as values.
//
// Plaintext writes are gathered into records of up to 16 KiB (one record and one send() for a
// response head and a small body). A channel is used by one thread; its coroutines may overlap
// only as a reader and a writer (a tunnel), which the output buffering allows.
#pragma once

#include "net/io.hpp"

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace haven::net::tls {

// How a handshake ended (a label of haven_tls_handshakes_total, docs/metrics.md).
enum class Handshake : std::uint8_t {
    Ok,
    Resumed,        // ok, with a resumed session (ticket or cache)
    Closed,         // the peer closed or reset the connection
    Timeout,        // the deadline (timeouts.request_headers, or connect upstream) ran out
    HttpRequest,    // plain HTTP sent to a TLS port
    Version,        // no TLS version in common (SSLv3, TLS 1.0/1.1 clients)
    NoSharedCipher, // no cipher suite in common
    Certificate,    // (to servers) the server's certificate failed verification
    Protocol,       // anything else: garbage, a bad message, an alert from the peer
};
inline constexpr std::size_t kHandshakeOutcomes = 9;
const char* handshake_name(Handshake h);

class Channel {
public:
    // Takes ownership of `ssl` (from ServerContext::new_ssl or ClientContext::new_ssl) and keeps
    // `context` (whose callbacks the SSL calls) alive as long as the channel.
    Channel(SSL* ssl, int fd, std::shared_ptr<const void> context);
    ~Channel();
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    // Runs the handshake to its end. On failure `outcome()` says why.
    awaitable<asio::error_code> handshake(asio::ip::tcp::socket& s);
    Handshake outcome() const { return outcome_; }
    // The verification error of a server's certificate (client side), or "".
    std::string verify_error() const;

    // Decrypted bytes into [data, data + size). `continues`: the read continues a message the
    // caller has started (see net::rearm_read). End of stream (close_notify or not) is eof.
    awaitable<std::tuple<asio::error_code, std::size_t>> read_some(asio::ip::tcp::socket& s, void* data,
                                                                  std::size_t size, bool continues);

    // Encrypts all of `bufs` and sends what the kernel takes now. Returns true when nothing is
    // left to send (or on an error, in `ec`); otherwise flush() sends the rest.
    bool send_now(const asio::const_buffer* bufs, std::size_t count, asio::error_code& ec);
    awaitable<asio::error_code> flush(asio::ip::tcp::socket& s);

    // Sends close_notify if the kernel takes it now (best effort; never waits).
    void close_notify();
    // Bytes already read from the socket that a read_some would return without the socket.
    bool has_buffered() const;
    // Gives the input buffer back while the connection is idle.
    void release_idle_buffer();

    std::string_view version() const; // "TLSv1.3"
    std::string_view cipher() const;  // "TLS_AES_128_GCM_SHA256"
    std::string_view server_name() const; // SNI the client sent, or ""
    bool resumed() const;

    // Internal: the state the BIO callbacks (channel.cpp) work on.
    struct Io {
        int fd = -1;
        std::unique_ptr<char[]> in;
        std::size_t in_begin = 0, in_end = 0;
        bool eof = false;             // the peer ended the stream
        int send_errno = 0;           // a send failed: the connection is unusable
        bool flushing = false;        // a flush() is writing `out`: new bytes go to `later`
        std::string out;              // ciphertext the kernel has not taken yet
        std::string later;
        std::size_t in_avail() const { return in_end - in_begin; }
        bool out_pending() const { return !out.empty() || !later.empty(); }
    };

private:
    awaitable<asio::error_code> fill(asio::ip::tcp::socket& s, bool continues);
    Handshake classify(int ssl_error, const asio::error_code& io) const;

    std::shared_ptr<const void> context_;
    SSL* ssl_;
    Io io_;
    bool drained_ = false;
    Handshake outcome_ = Handshake::Ok;
};

} // namespace haven::net::tls
