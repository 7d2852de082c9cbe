#include "proxy/access_log.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace haven::proxy {
namespace {

std::mutex g_drain_mu; // drain() runs on the writer thread and from flush()/the destructor

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20 || c >= 0x7f) {
                // Request bytes are not guaranteed UTF-8: escape everything outside printable ASCII.
                fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
    }
    out.push_back('"');
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
    out += ",\"";
    out += key;
    out += "\":";
    append_json_string(out, value);
}

std::string iso8601(std::int64_t us) {
    const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1'000'000);
}

} // namespace

AccessLogRing::AccessLogRing(std::size_t slots_pow2) : slots_(slots_pow2), mask_(slots_pow2 - 1) {}

bool AccessLogRing::try_push(const AccessRecord& r) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) > mask_) return false;
    slots_[head & mask_] = r;
    head_.store(head + 1, std::memory_order_release);
    return true;
}

bool AccessLogRing::try_pop(AccessRecord& r) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return false;
    r = slots_[tail & mask_];
    tail_.store(tail + 1, std::memory_order_release);
    return true;
}

AccessLogWriter::AccessLogWriter(const std::string& path, std::size_t rings) {
    if (path == "stdout") {
        out_ = stdout;
    } else if (path == "stderr") {
        out_ = stderr;
    } else {
        out_ = std::fopen(path.c_str(), "a");
        if (!out_) throw std::runtime_error("cannot open access log " + path + ": " + std::strerror(errno));
        owns_ = true;
    }
    for (std::size_t i = 0; i < rings; ++i) rings_.push_back(std::make_unique<AccessLogRing>());
    thread_ = std::make_unique<PeriodicThread>(std::chrono::milliseconds(20), [this] { drain(); });
}

AccessLogWriter::~AccessLogWriter() {
    thread_.reset(); // stops the thread after a last drain
    drain();
    if (owns_) std::fclose(out_);
}

void AccessLogWriter::flush() { drain(); }

void AccessLogWriter::drain() {
    std::lock_guard lock(g_drain_mu);
    AccessRecord r;
    bool wrote = false;
    for (auto& ring : rings_) {
        while (ring->try_pop(r)) {
            const std::string line = format(r);
            std::fwrite(line.data(), 1, line.size(), out_);
            std::fputc('\n', out_);
            wrote = true;
        }
    }
    if (wrote) std::fflush(out_);
}

std::string AccessLogWriter::format(const AccessRecord& r) {
    std::string out;
    out.reserve(512);
    out += "{\"time\":\"";
    out += iso8601(r.time_us);
    out += '"';
    append_field(out, "client", r.client.view());
    append_field(out, "listener", r.listener.view());
    append_field(out, "method", r.method.view());
    append_field(out, "path", r.path.view());
    append_field(out, "host", r.host.view());
    fmt::format_to(std::back_inserter(out), ",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{:.3f}",
                   r.status, r.bytes_in, r.bytes_out, r.duration_us / 1000.0);
    append_field(out, "pool", r.pool.view());
    append_field(out, "server", r.server.view());
    fmt::format_to(std::back_inserter(out), ",\"attempts\":{}", r.attempts);
    append_field(out, "tried", r.tried.view());
    append_field(out, "flag", flag_name(r.flag));
    append_field(out, "request_id", r.request_id.view());
    append_field(out, "tls_version", r.tls_version.view());
    append_field(out, "tls_cipher", r.tls_cipher.view());
    out += '}';
    return out;
}

} // namespace haven::proxy
