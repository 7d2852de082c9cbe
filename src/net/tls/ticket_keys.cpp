#include "net/tls/ticket_keys.hpp"

#include <openssl/rand.h>

#include <cstring>
#include <map>
#include <stdexcept>

namespace haven::net::tls {

void TicketKeys::set_rotation(std::int64_t rotation_ms) {
    std::lock_guard lock(mu_);
    rotation_ms_ = rotation_ms;
}

void TicketKeys::rotate_if_due(std::int64_t now_ms) {
    if (!keys_.empty() && now_ms - keys_.front().created_ms < rotation_ms_) return;
    TicketKey k;
    if (RAND_bytes(k.name.data(), k.name.size()) != 1 || RAND_bytes(k.aes.data(), k.aes.size()) != 1 ||
        RAND_bytes(k.hmac.data(), k.hmac.size()) != 1) {
        throw std::runtime_error("no random bytes for a session-ticket key");
    }
    k.created_ms = now_ms;
    keys_.push_front(k);
    while (keys_.size() > kKept) keys_.pop_back();
}

TicketKey TicketKeys::current(std::int64_t now_ms) {
    std::lock_guard lock(mu_);
    rotate_if_due(now_ms);
    return keys_.front();
}

TicketKeys::Found TicketKeys::find(const unsigned char* name, std::int64_t now_ms, TicketKey& out) {
    std::lock_guard lock(mu_);
    rotate_if_due(now_ms);
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        if (std::memcmp(keys_[i].name.data(), name, keys_[i].name.size()) != 0) continue;
        out = keys_[i];
        return i == 0 ? Found::Current : Found::Older;
    }
    return Found::No;
}

std::size_t TicketKeys::size() const {
    std::lock_guard lock(mu_);
    return keys_.size();
}

std::shared_ptr<TicketKeys> TicketKeys::for_listener(const std::string& listener, std::int64_t rotation_ms) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<TicketKeys>> all;
    std::lock_guard lock(mu);
    auto& k = all[listener];
    if (!k) k = std::make_shared<TicketKeys>(rotation_ms);
    else k->set_rotation(rotation_ms);
    return k;
}

} // namespace haven::net::tls
