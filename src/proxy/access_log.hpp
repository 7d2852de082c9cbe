// The access log: one JSON line per request, written by a background thread.
//
// A worker never blocks on it: it copies a fixed-size record into its own single-producer ring;
// the writer thread drains every ring every 20 ms and formats and writes the lines. When a ring is
// full the record is dropped and counted (haven_access_log_dropped_total), never waited for.
// Fields are documented in docs/access-log.md.
#pragma once

#include "core/periodic_thread.hpp"
#include "proxy/stage.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace haven::proxy {

// A bounded copy of a string (truncated, never allocated).
template <std::size_t N>
struct FixedText {
    char data[N];
    std::uint16_t len = 0;
    void set(std::string_view s) {
        len = static_cast<std::uint16_t>(s.size() < N ? s.size() : N);
        for (std::size_t i = 0; i < len; ++i) data[i] = s[i];
    }
    std::string_view view() const { return {data, len}; }
};

struct AccessRecord {
    std::int64_t time_us = 0; // wall clock at request start
    std::uint32_t duration_us = 0;
    std::uint16_t status = 0;
    std::uint8_t attempts = 0;
    ResponseFlag flag = ResponseFlag::None;
    std::uint64_t bytes_in = 0;  // request bytes received from the client (head + body)
    std::uint64_t bytes_out = 0; // response bytes sent to the client (head + body)
    FixedText<46> client;
    FixedText<16> method;
    FixedText<512> path;  // request-target
    FixedText<128> host;
    FixedText<64> listener;
    FixedText<64> pool;
    FixedText<64> server;   // last server tried
    FixedText<160> tried;   // every server tried, comma separated
    FixedText<64> request_id;
    FixedText<8> tls_version; // "TLSv1.3"; empty on a plain connection
    FixedText<48> tls_cipher;
};

// Single producer (one worker), single consumer (the writer thread).
class AccessLogRing {
public:
    explicit AccessLogRing(std::size_t slots_pow2 = 4096);
    bool try_push(const AccessRecord& r);
    bool try_pop(AccessRecord& r);

private:
    std::vector<AccessRecord> slots_;
    std::size_t mask_;
    alignas(64) std::atomic<std::size_t> head_{0}; // next slot to write (producer)
    alignas(64) std::atomic<std::size_t> tail_{0}; // next slot to read (consumer)
};

class AccessLogWriter {
public:
    // path: a file (appended to), "stdout" or "stderr". Throws std::runtime_error if it cannot open.
    AccessLogWriter(const std::string& path, std::size_t rings);
    ~AccessLogWriter();
    AccessLogRing& ring(std::size_t i) { return *rings_[i]; }
    // Formats one record as a JSON line (no trailing newline); public for tests.
    static std::string format(const AccessRecord& r);
    void flush();

private:
    void drain();
    std::vector<std::unique_ptr<AccessLogRing>> rings_;
    std::FILE* out_ = nullptr;
    bool owns_ = false;
    std::unique_ptr<PeriodicThread> thread_;
};

} // namespace haven::proxy
