// src/net: sockets — listeners, socket options, the TCP relay, and the I/O buffers they share.
//
// BufferPool: fixed-size I/O buffers recycled per worker thread. A request borrows buffers for as
// long as it is in flight and returns them when done, so idle keep-alive connections hold no
// large buffer (memory with 10,000 idle clients stays small) and the request path does not call
// malloc once the pool is warm. One pool per worker: no locks.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>
#include <vector>

namespace haven::net {

class BufferPool {
public:
    BufferPool(std::size_t buffer_size, std::size_t max_cached)
        : size_(buffer_size), max_cached_(max_cached) {
        free_.reserve(max_cached);
    }
    ~BufferPool();
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    char* acquire();
    void release(char* p);
    std::size_t buffer_size() const { return size_; }
    std::size_t cached() const { return free_.size(); }

private:
    std::size_t size_;
    std::size_t max_cached_;
    std::vector<char*> free_;
};

// A window [begin, end) of valid bytes in a storage area [data, data + capacity).
// Either inline storage owned by its holder, or a buffer borrowed from a BufferPool.
class IoBuffer {
public:
    IoBuffer() = default;
    IoBuffer(char* inline_data, std::size_t inline_capacity)
        : data_(inline_data), cap_(inline_capacity), inline_data_(inline_data), inline_cap_(inline_capacity) {}
    ~IoBuffer() { release(); }
    IoBuffer(const IoBuffer&) = delete;
    IoBuffer& operator=(const IoBuffer&) = delete;

    std::string_view readable() const { return {data_ + begin_, end_ - begin_}; }
    std::size_t size() const { return end_ - begin_; }
    bool empty() const { return begin_ == end_; }
    char* write_ptr() { return data_ + end_; }
    std::size_t write_space() const { return cap_ - end_; }
    std::size_t capacity() const { return cap_; }
    void commit(std::size_t n) { end_ += n; }
    void consume(std::size_t n) {
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;
    }
    void clear() { begin_ = end_ = 0; }
    // Moves the readable bytes to the start of the storage (invalidates views into it).
    void compact() {
        if (begin_ == 0) return;
        std::memmove(data_, data_ + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    bool pooled() const { return pool_ != nullptr; }

    // Switches to a pooled buffer, keeping the readable bytes (moved to its start).
    void borrow(BufferPool& pool);
    // Returns a pooled buffer if empty (back to inline storage, or none). No-op otherwise.
    void release_if_empty() {
        if (pool_ && empty()) release();
    }

private:
    void release();

    char* data_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    char* inline_data_ = nullptr;
    std::size_t inline_cap_ = 0;
    BufferPool* pool_ = nullptr;
};

} // namespace haven::net
