// Session-ticket keys for one listener, rotated on a period: tickets are sealed with the newest
// key and opened with it or one of the two before it (so a ticket lives up to three periods, and
// one opened with an older key is replaced by a fresh one). The keys outlive reloads (one set per
// listener name, see for_listener), so clients resume across a reload. Random keys, never written
// anywhere: a restart starts a new set, as HAProxy and nginx do without a key file.
//
// Time is a parameter (Unix milliseconds); handshakes on every worker call in, hence the mutex
// (a handshake costs far more than an uncontended lock).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

namespace haven::net::tls {

struct TicketKey {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};  // AES-256-CBC key
    std::array<unsigned char, 32> hmac{}; // HMAC-SHA256 key
    std::int64_t created_ms = 0;
};

class TicketKeys {
public:
    static constexpr std::size_t kKept = 3; // the newest and the two before it

    explicit TicketKeys(std::int64_t rotation_ms) : rotation_ms_(rotation_ms) {}
    void set_rotation(std::int64_t rotation_ms);

    // The key to seal a new ticket with (a new one when the newest is a period old).
    TicketKey current(std::int64_t now_ms);
    enum class Found { No, Current, Older };
    // The key named `name` (16 bytes), if still kept.
    Found find(const unsigned char* name, std::int64_t now_ms, TicketKey& out);
    std::size_t size() const;

    // The process's key set for a listener (created on first use; the rotation is updated).
    static std::shared_ptr<TicketKeys> for_listener(const std::string& listener, std::int64_t rotation_ms);

private:
    void rotate_if_due(std::int64_t now_ms);
    mutable std::mutex mu_;
    std::int64_t rotation_ms_;
    std::deque<TicketKey> keys_; // newest first
};

} // namespace haven::net::tls
