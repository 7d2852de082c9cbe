#include "net/buffer_pool.hpp"

#include <gtest/gtest.h>

namespace haven::net {
namespace {

TEST(BufferPool, RecyclesUpToTheCacheLimit) {
    BufferPool pool(4096, 2);
    char* a = pool.acquire();
    char* b = pool.acquire();
    char* c = pool.acquire();
    pool.release(a);
    pool.release(b);
    pool.release(c); // beyond max_cached: freed
    EXPECT_EQ(pool.cached(), 2u);
    char* d = pool.acquire();
    EXPECT_TRUE(d == a || d == b) << "a cached buffer is reused, no new allocation";
    pool.release(d);
}

TEST(IoBuffer, InlineThenBorrowKeepsBytes) {
    char inline_storage[8];
    BufferPool pool(64, 4);
    IoBuffer buf(inline_storage, sizeof inline_storage);
    std::memcpy(buf.write_ptr(), "abcdefgh", 8);
    buf.commit(8);
    buf.consume(2);
    EXPECT_EQ(buf.write_space(), 0u);
    buf.borrow(pool);
    EXPECT_TRUE(buf.pooled());
    EXPECT_EQ(buf.readable(), "cdefgh");
    EXPECT_EQ(buf.write_space(), 64u - 6u);
    buf.consume(6);
    buf.release_if_empty();
    EXPECT_FALSE(buf.pooled());
    EXPECT_EQ(buf.capacity(), 8u);
    EXPECT_EQ(pool.cached(), 1u) << "the pooled buffer went back to the pool";
}

TEST(IoBuffer, CompactMovesReadableBytesToTheFront) {
    char storage[16];
    IoBuffer buf(storage, sizeof storage);
    std::memcpy(buf.write_ptr(), "0123456789", 10);
    buf.commit(10);
    buf.consume(7);
    buf.compact();
    EXPECT_EQ(buf.readable(), "789");
    EXPECT_EQ(buf.write_space(), 13u);
    buf.consume(3);
    EXPECT_TRUE(buf.empty());
    EXPECT_EQ(buf.write_space(), 16u) << "an emptied buffer starts over at the front";
}

TEST(IoBuffer, ReleaseIfEmptyKeepsNonEmptyPooledBuffer) {
    char storage[4];
    BufferPool pool(32, 4);
    IoBuffer buf(storage, sizeof storage);
    buf.borrow(pool);
    buf.commit(3);
    buf.release_if_empty();
    EXPECT_TRUE(buf.pooled());
}

} // namespace
} // namespace haven::net
