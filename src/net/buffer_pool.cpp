#include "net/buffer_pool.hpp"

#include <cstdlib>
#include <new>

namespace haven::net {

BufferPool::~BufferPool() {
    for (char* p : free_) std::free(p);
}

char* BufferPool::acquire() {
    if (!free_.empty()) {
        char* p = free_.back();
        free_.pop_back();
        return p;
    }
    auto* p = static_cast<char*>(std::malloc(size_));
    if (!p) throw std::bad_alloc();
    return p;
}

void BufferPool::release(char* p) {
    if (free_.size() < max_cached_) {
        free_.push_back(p);
    } else {
        std::free(p);
    }
}

void IoBuffer::borrow(BufferPool& pool) {
    if (pool_ == &pool) return;
    char* fresh = pool.acquire();
    const std::size_t n = size();
    if (n) std::memcpy(fresh, data_ + begin_, n);
    release();
    data_ = fresh;
    cap_ = pool.buffer_size();
    pool_ = &pool;
    begin_ = 0;
    end_ = n;
}

void IoBuffer::release() {
    if (pool_) {
        pool_->release(data_);
        pool_ = nullptr;
    }
    data_ = inline_data_;
    cap_ = inline_cap_;
    begin_ = end_ = 0;
}

} // namespace haven::net
