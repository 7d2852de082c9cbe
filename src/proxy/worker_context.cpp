#include "proxy/worker_context.hpp"

#include "proxy/acceptor.hpp"
#include "proxy/request_context.hpp"

#include <asio/co_spawn.hpp>
#include "proxy/session.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

namespace haven::proxy {
namespace {

constexpr std::size_t kIoBuffer = 16384;

// A head is parsed in place, so a buffer must hold the largest allowed head (and one byte more,
// so that an oversized head is detected rather than waited for).
std::size_t large_buffer_size(const config::Config& c) {
    return std::max<std::size_t>(kIoBuffer, c.limits.max_header_bytes + 1024);
}

constexpr char kHex[] = "0123456789abcdef";

void hex64(std::uint64_t v, char* out) {
    for (int i = 15; i >= 0; --i) {
        out[i] = kHex[v & 0xf];
        v >>= 4;
    }
}

} // namespace

void DateCache::refresh(std::int64_t wall_us) {
    const std::int64_t sec = wall_us / 1'000'000;
    if (sec == second_) return;
    second_ = sec;
    const std::time_t t = static_cast<std::time_t>(sec);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    len_ = std::strftime(buf_.data(), buf_.size(), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

RequestIdGenerator::RequestIdGenerator(std::uint64_t prefix) { hex64(prefix, prefix_hex_); }

// Two hex digits per table lookup: this runs for every request without an X-Request-Id.
void RequestIdGenerator::next(char* out) {
    static constexpr auto kPairs = [] {
        std::array<char, 512> t{};
        for (int i = 0; i < 256; ++i) {
            t[2 * i] = kHex[i >> 4];
            t[2 * i + 1] = kHex[i & 0xf];
        }
        return t;
    }();
    std::memcpy(out, prefix_hex_, 16);
    std::uint64_t v = ++counter_;
    for (int i = 7; i >= 0; --i) {
        std::memcpy(out + 16 + 2 * i, &kPairs[2 * (v & 0xff)], 2);
        v >>= 8;
    }
}

WorkerContext::WorkerContext(unsigned idx, std::shared_ptr<const Snapshot> snapshot, WorkerShared& sh,
                             AccessLogRing* log)
    : index(idx),
      io(ASIO_CONCURRENCY_HINT_UNSAFE),
      scheduler(io),
      deadlines(scheduler, std::chrono::milliseconds(100)),
      small_buffers(1024, 256),
      buffers(kIoBuffer, 256),
      large_buffers(large_buffer_size(*snapshot->config), 16),
      random(FastRandom::from_entropy()),
      request_ids(random.next_u64()),
      access_log(log),
      shared(sh),
      snapshot_(std::move(snapshot)) {
    for (const auto& set : snapshot_->pools) {
        pools_.push_back(std::make_unique<upstream::PoolRuntime>(set, deadlines, random, index));
    }
    date.refresh(wall_time_us());
    doorbell_.start([this] { drain_mailbox(); });
}

WorkerContext::~WorkerContext() {
    pools_.clear();
    for (auto* r : free_requests_) delete r;
}

void WorkerContext::apply(std::shared_ptr<const Snapshot> snapshot) {
    // Pools are matched by name: a pool that keeps its name keeps its connections.
    std::vector<std::unique_ptr<upstream::PoolRuntime>> next;
    for (const auto& set : snapshot->pools) {
        std::unique_ptr<upstream::PoolRuntime> kept;
        for (auto& p : pools_) {
            if (p && p->hosts().name == set->name) {
                kept = std::move(p);
                break;
            }
        }
        if (kept) {
            kept->update(set);
            shut_sessions(*kept);
        } else {
            kept = std::make_unique<upstream::PoolRuntime>(set, deadlines, random, index);
        }
        next.push_back(std::move(kept));
    }
    // Pools the new config removed live on until their last request ends (see run_mailbox).
    for (auto& p : pools_) {
        if (p) retired_pools_.push_back(std::move(p));
    }
    pools_ = std::move(next);
    snapshot_ = std::move(snapshot);
}

void WorkerContext::apply_pool(std::shared_ptr<const upstream::HostSet> set) {
    for (auto& p : pools_) {
        if (p->hosts().name == set->name) {
            p->update(std::move(set));
            shut_sessions(*p);
            return;
        }
    }
}

void WorkerContext::add_session(Session* s) {
    s->next = sessions_head_;
    s->prev = nullptr;
    if (sessions_head_) sessions_head_->prev = s;
    sessions_head_ = s;
    ++session_count_;
}

void WorkerContext::remove_session(Session* s) {
    if (s->prev) s->prev->next = s->next;
    if (s->next) s->next->prev = s->prev;
    if (sessions_head_ == s) sessions_head_ = s->next;
    s->prev = s->next = nullptr;
    --session_count_;
}

void WorkerContext::shut_sessions(const upstream::PoolRuntime& pool) {
    const auto& shut = pool.hosts().shut;
    if (std::find(shut.begin(), shut.end(), std::uint8_t{1}) == shut.end()) return;
    for (Session* s = sessions_head_; s;) {
        Session* next = s->next; // the session may close, never unlink, here (its coroutine ends later)
        s->on_servers_shut(pool);
        s = next;
    }
}

bool WorkerContext::evict_idle_session() {
    Session* oldest = nullptr;
    for (Session* s = sessions_head_; s; s = s->next) {
        if (s->idle() && (!oldest || s->idle_since() < oldest->idle_since())) oldest = s;
    }
    if (!oldest) return false;
    oldest->close_idle();
    stats.connections_evicted.inc();
    return true;
}

void WorkerContext::add_listener(std::uint32_t slot, int fd, bool v6) {
    auto a = std::make_unique<asio::ip::tcp::acceptor>(io);
    a->assign(v6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd);
    auto* raw = a.get();
    acceptors_[slot] = std::move(a);
    asio::co_spawn(io, accept_loop(*this, *raw, slot), [](std::exception_ptr) {});
}

void WorkerContext::remove_listener(std::uint32_t slot) {
    const auto it = acceptors_.find(slot);
    if (it != acceptors_.end()) {
        take_pending(*this, *it->second); // the close would reset what the kernel queued on it
        asio::error_code ignored;
        it->second->close(ignored);
        // The accept loop still references the acceptor until its aborted accept completes:
        // keep the object until shutdown (a handful of bytes per removed listener).
        closed_acceptors_.push_back(std::move(it->second));
        acceptors_.erase(it);
    }
    for (Session* s = sessions_head_; s;) {
        Session* next = s->next;
        if (s->slot == slot) s->on_drain();
        s = next;
    }
}

void WorkerContext::begin_drain() {
    draining_ = true;
    for (auto& [slot, a] : acceptors_) {
        asio::error_code ignored;
        a->close(ignored);
    }
    for (Session* s = sessions_head_; s;) {
        Session* next = s->next;
        s->on_drain();
        s = next;
    }
}

void WorkerContext::run_soon(std::function<void()> fn) {
    std::lock_guard lock(mailbox_mu_);
    mailbox_.push_back(std::move(fn));
    mailbox_full_.store(true, std::memory_order_release);
    doorbell_.ring();
}

void WorkerContext::run_mailbox() {
    if (shutdown_ticks_ >= 0 && (session_count_ == 0 || ++shutdown_ticks_ > 20)) {
        deadlines.stop();
        io.stop();
        return;
    }
    std::erase_if(retired_pools_, [](const auto& p) { return !p->in_use(); });
    drain_mailbox();
}

void WorkerContext::drain_mailbox() {
    if (!mailbox_full_.load(std::memory_order_acquire)) return;
    std::vector<std::function<void()>> work;
    {
        std::lock_guard lock(mailbox_mu_);
        work.swap(mailbox_);
        mailbox_full_.store(false, std::memory_order_relaxed);
    }
    for (auto& fn : work) fn();
}

void WorkerContext::shut_down() {
    draining_ = true;
    for (Session* s = sessions_head_; s;) {
        Session* next = s->next;
        s->force_close();
        s = next;
    }
    shutdown_ticks_ = 0;
}

RequestContext* WorkerContext::acquire_request() {
    RequestContext* r;
    if (!free_requests_.empty()) {
        r = free_requests_.back();
        free_requests_.pop_back();
    } else {
        r = new RequestContext(config().limits.max_headers);
    }
    r->reset();
    return r;
}

void WorkerContext::release_request(RequestContext* r) {
    if (free_requests_.size() < 256 && r->req_headers.size() == config().limits.max_headers) {
        free_requests_.push_back(r);
    } else {
        delete r;
    }
}

} // namespace haven::proxy
