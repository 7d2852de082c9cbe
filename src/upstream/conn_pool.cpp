#include "upstream/conn_pool.hpp"

#include <algorithm>

namespace haven::upstream {

std::unique_ptr<UpstreamConn> ConnPool::take() {
    if (idle_.empty()) return nullptr;
    auto c = std::move(idle_.back());
    idle_.pop_back();
    deadlines_.remove(c->idle);
    c->pool = nullptr;
    return c;
}

void ConnPool::put(std::unique_ptr<UpstreamConn> c) {
    if (idle_.size() >= max_idle_ || !c->stream.socket().is_open()) {
        asio::error_code ignored;
        c->stream.close();
        return;
    }
    c->pool = this;
    c->idle.owner = c.get();
    c->idle.on_expire = &ConnPool::on_idle_timeout;
    deadlines_.set(c->idle, idle_timeout_);
    deadlines_.add(c->idle);
    idle_.push_back(std::move(c));
}

void ConnPool::on_idle_timeout(Deadline* d) {
    auto* c = static_cast<UpstreamConn*>(d->owner);
    c->pool->erase(c);
}

void ConnPool::erase(UpstreamConn* c) {
    auto it = std::find_if(idle_.begin(), idle_.end(), [c](const auto& p) { return p.get() == c; });
    if (it == idle_.end()) return;
    deadlines_.remove(c->idle);
    asio::error_code ignored;
    c->stream.close();
    idle_.erase(it);
}

void ConnPool::clear() {
    for (auto& c : idle_) {
        deadlines_.remove(c->idle);
        asio::error_code ignored;
        c->stream.close();
    }
    idle_.clear();
}

} // namespace haven::upstream
