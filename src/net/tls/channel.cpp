#include "net/tls/channel.hpp"
#include "net/tls/client_context.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sys/socket.h>

#include <asio/write.hpp>

#include <cerrno>
#include <cstring>

namespace haven::net::tls {
namespace {

constexpr std::size_t kInputSize = 16 * 1024;
constexpr std::size_t kRecordPlaintext = 16 * 1024; // the largest TLS record

// OpenSSL's error queue must be empty before a call whose failure SSL_get_error classifies. In
// OpenSSL 3.0 ERR_clear_error walks and frees all 16 slots (about 800 instructions) even when the
// queue is empty, and the request path calls this several times per request; a peek is cheap.
void clear_errors() {
    if (ERR_peek_error() != 0) ERR_clear_error();
}

// --- the BIO: ciphertext in from Channel::Io::in, out with send() at once

int bio_read(BIO* b, char* out, int len) {
    auto* io = static_cast<Channel::Io*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    const std::size_t n = std::min<std::size_t>(io->in_avail(), static_cast<std::size_t>(len));
    if (n == 0) {
        if (io->eof) return 0;
        BIO_set_retry_read(b);
        return -1;
    }
    std::memcpy(out, io->in.get() + io->in_begin, n);
    io->in_begin += n;
    if (io->in_begin == io->in_end) io->in_begin = io->in_end = 0;
    return static_cast<int>(n);
}

int bio_write(BIO* b, const char* data, int len) {
    auto* io = static_cast<Channel::Io*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    if (io->send_errno != 0) return -1;
    std::size_t n = static_cast<std::size_t>(len);
    if (io->flushing) {
        io->later.append(data, n);
        return len;
    }
    std::size_t sent = 0;
    if (io->out.empty()) {
        for (;;) {
            const ssize_t r = ::send(io->fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (r >= 0) {
                sent = static_cast<std::size_t>(r);
                break;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            io->send_errno = errno;
            return -1;
        }
    }
    if (sent < n) io->out.append(data + sent, n - sent);
    return len;
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
    auto* io = static_cast<Channel::Io*>(BIO_get_data(b));
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return static_cast<long>(io->in_avail());
    case BIO_CTRL_WPENDING: return static_cast<long>(io->out.size() + io->later.size());
    case BIO_CTRL_EOF: return io->eof && io->in_avail() == 0;
    default: return 0;
    }
}

int bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

BIO_METHOD* bio_method() {
    static BIO_METHOD* m = [] {
        BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "haven stream");
        BIO_meth_set_read(bm, bio_read);
        BIO_meth_set_write(bm, bio_write);
        BIO_meth_set_ctrl(bm, bio_ctrl);
        BIO_meth_set_create(bm, bio_create);
        return bm;
    }();
    return m;
}

} // namespace

const char* handshake_name(Handshake h) {
    static constexpr const char* kNames[kHandshakeOutcomes] = {
        "ok", "resumed", "closed", "timeout", "http_request", "version", "no_shared_cipher", "certificate", "protocol"};
    return kNames[static_cast<std::size_t>(h)];
}

Channel::Channel(SSL* ssl, int fd, std::shared_ptr<const void> context) : context_(std::move(context)), ssl_(ssl) {
    io_.fd = fd;
    BIO* bio = BIO_new(bio_method());
    BIO_set_data(bio, &io_);
    SSL_set_bio(ssl_, bio, bio); // the SSL owns the BIO (one reference, used both ways)
}

Channel::~Channel() { SSL_free(ssl_); }

awaitable<asio::error_code> Channel::fill(asio::ip::tcp::socket& s, bool continues) {
    if (!io_.in) io_.in = std::make_unique_for_overwrite<char[]>(kInputSize); // no 16 KiB memset per connection
    if (io_.in_end == kInputSize && io_.in_begin > 0) {
        std::memmove(io_.in.get(), io_.in.get() + io_.in_begin, io_.in_avail());
        io_.in_end -= io_.in_begin;
        io_.in_begin = 0;
    }
    asio::error_code ec;
    std::size_t n = 0;
    if (continues && drained_) std::tie(ec) = co_await rearm_read(s);
    if (!ec) {
        std::tie(ec, n) = co_await s.async_read_some(
            ReadBuffer(io_.in.get() + io_.in_end, kInputSize - io_.in_end, &drained_), use_nothrow);
    }
    if (ec == asio::error::eof || (!ec && n == 0)) {
        io_.eof = true;
        co_return asio::error_code();
    }
    io_.in_end += n;
    co_return ec;
}

awaitable<asio::error_code> Channel::flush(asio::ip::tcp::socket& s) {
    if (io_.flushing) co_return asio::error_code(); // another coroutine is sending; it sends ours too
    io_.flushing = true;
    asio::error_code ec;
    while (!ec && !io_.out.empty()) {
        auto [wec, n] = co_await asio::async_write(s, asio::buffer(io_.out), use_nothrow);
        ec = wec;
        io_.out.clear();
        io_.out.swap(io_.later); // written while this write was in flight
    }
    io_.flushing = false;
    if (ec) io_.send_errno = ec.value() ? ec.value() : EPIPE;
    co_return ec;
}

Handshake Channel::classify(int ssl_error, const asio::error_code& io) const {
    if (io == asio::error::operation_aborted) return Handshake::Timeout;
    if (io || io_.send_errno != 0) return Handshake::Closed;
    const unsigned long e = ERR_peek_last_error();
    if (ssl_error == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL) {
        switch (ERR_GET_REASON(e)) {
        case SSL_R_HTTP_REQUEST:
        case SSL_R_HTTPS_PROXY_REQUEST: return Handshake::HttpRequest;
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_VERSION_TOO_LOW:
        case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION: return Handshake::Version;
        case SSL_R_NO_SHARED_CIPHER:
        case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE: return Handshake::NoSharedCipher;
        case SSL_R_CERTIFICATE_VERIFY_FAILED: return Handshake::Certificate;
        case SSL_R_UNEXPECTED_EOF_WHILE_READING: return Handshake::Closed;
        default: break;
        }
    }
    if (io_.eof) return Handshake::Closed;
    return Handshake::Protocol;
}

awaitable<asio::error_code> Channel::handshake(asio::ip::tcp::socket& s) {
    for (bool first = true;; first = false) {
        clear_errors();
        const int r = SSL_do_handshake(ssl_);
        asio::error_code ec;
        if (io_.out_pending()) ec = co_await flush(s);
        if (r == 1 && !ec) {
            outcome_ = SSL_session_reused(ssl_) ? Handshake::Resumed : Handshake::Ok;
            co_return ec;
        }
        const int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
        if (!ec && err == SSL_ERROR_WANT_READ && !io_.eof) ec = co_await fill(s, !first);
        if (!ec && err == SSL_ERROR_WANT_READ && !io_.eof) continue;
        outcome_ = classify(err, ec);
        clear_errors();
        co_return ec ? ec : asio::error_code(asio::error::connection_aborted);
    }
}

awaitable<std::tuple<asio::error_code, std::size_t>> Channel::read_some(asio::ip::tcp::socket& s, void* data,
                                                                       std::size_t size, bool continues) {
    for (;;) {
        clear_errors();
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl_, data, size, &n);
        if (r == 1) co_return std::tuple{asio::error_code(), n};
        const int err = SSL_get_error(ssl_, r);
        asio::error_code ec;
        if (io_.out_pending()) ec = co_await flush(s); // a key update, or tickets sent late
        if (err == SSL_ERROR_ZERO_RETURN) co_return std::tuple{asio::error_code(asio::error::eof), std::size_t{0}};
        if (!ec && err == SSL_ERROR_WANT_READ && !io_.eof) {
            ec = co_await fill(s, continues || io_.in_avail() > 0 || SSL_has_pending(ssl_));
            if (!ec) continue;
        }
        clear_errors();
        if (!ec) ec = io_.eof ? asio::error_code(asio::error::eof) : asio::error_code(asio::error::connection_reset);
        co_return std::tuple{ec, std::size_t{0}};
    }
}

bool Channel::send_now(const asio::const_buffer* bufs, std::size_t count, asio::error_code& ec) {
    // Gather small pieces into one record: a head and a short body become one record, one send().
    static thread_local char gather[kRecordPlaintext];
    std::size_t used = 0;
    const auto write = [&](const void* p, std::size_t n) {
        clear_errors();
        std::size_t done = 0;
        if (SSL_write_ex(ssl_, p, n, &done) != 1 || done != n) {
            clear_errors();
            ec = io_.send_errno ? asio::error_code(io_.send_errno, asio::system_category())
                                : asio::error_code(asio::error::connection_reset);
            return false;
        }
        return true;
    };
    for (std::size_t i = 0; i < count; ++i) {
        const char* p = static_cast<const char*>(bufs[i].data());
        std::size_t left = bufs[i].size();
        while (left > 0) {
            if (used == 0 && left >= kRecordPlaintext) { // a full record straight from the caller
                if (!write(p, kRecordPlaintext)) return true;
                p += kRecordPlaintext;
                left -= kRecordPlaintext;
                continue;
            }
            const std::size_t n = std::min(left, kRecordPlaintext - used);
            std::memcpy(gather + used, p, n);
            used += n;
            p += n;
            left -= n;
            if (used == kRecordPlaintext) {
                if (!write(gather, used)) return true;
                used = 0;
            }
        }
    }
    if (used > 0 && !write(gather, used)) return true;
    return !io_.out_pending();
}

void Channel::close_notify() {
    if (io_.send_errno != 0 || io_.flushing || !SSL_is_init_finished(ssl_)) return;
    clear_errors();
    SSL_shutdown(ssl_);
    clear_errors();
}

bool Channel::has_buffered() const { return io_.in_avail() > 0 || SSL_has_pending(ssl_) || SSL_pending(ssl_) > 0; }

void Channel::release_idle_buffer() {
    if (io_.in_avail() == 0) {
        io_.in.reset();
        io_.in_begin = io_.in_end = 0;
    }
}

std::string Channel::verify_error() const {
    const long v = SSL_get_verify_result(ssl_);
    return v == X509_V_OK ? std::string() : std::string(X509_verify_cert_error_string(v));
}

std::string_view Channel::version() const { return SSL_get_version(ssl_); }

std::string_view Channel::cipher() const {
    const char* c = SSL_get_cipher_name(ssl_);
    return c ? c : "";
}

std::string_view Channel::server_name() const {
    const char* n = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    return n ? n : "";
}

bool Channel::resumed() const { return SSL_session_reused(ssl_) == 1; }

// (Here, not in client_context.cpp, so that the config loader's TLS checks need no Asio.)
std::unique_ptr<Channel> client_channel(const std::shared_ptr<const ClientContext>& context, int fd,
                                        const std::string& host) {
    SSL* ssl = context->new_ssl(host);
    if (!ssl) return nullptr;
    return std::make_unique<Channel>(ssl, fd, context);
}

} // namespace haven::net::tls
