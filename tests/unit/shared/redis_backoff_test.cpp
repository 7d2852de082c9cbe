// The Redis client's pure parts: the reconnect backoff, the conversion of hiredis replies (fed
// as raw RESP bytes to hiredis' own reader), command encoding, and the Sentinel answers.
#include "shared/redis/client_core.hpp"
#include "shared/redis/reply.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>

namespace haven::shared::redis_backoff_test {

using namespace std::chrono_literals;

// One reply parsed by hiredis from `resp`, then converted.
RedisReply decode_one(std::string_view resp) {
    std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
    EXPECT_EQ(redisReaderFeed(reader.get(), resp.data(), resp.size()), REDIS_OK);
    void* raw = nullptr;
    EXPECT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
    EXPECT_NE(raw, nullptr) << "incomplete: " << resp;
    if (raw == nullptr) return {};
    RedisReply out = redis_reply_from(*static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    return out;
}

TEST(RedisBackoff, DoublesFromTheMinimumUpToTheMaximum) {
    RedisSettings s; // 100 ms .. 5 s
    EXPECT_EQ(redis_backoff(0, s), 100ms);
    EXPECT_EQ(redis_backoff(1, s), 200ms);
    EXPECT_EQ(redis_backoff(2, s), 400ms);
    EXPECT_EQ(redis_backoff(5, s), 3200ms);
    EXPECT_EQ(redis_backoff(6, s), 5s);
    EXPECT_EQ(redis_backoff(1000, s), 5s);
    EXPECT_EQ(redis_backoff(UINT32_MAX, s), 5s);
}

TEST(RedisBackoff, DegenerateSettings) {
    RedisSettings s;
    s.reconnect_min = 0ms;
    EXPECT_EQ(redis_backoff(UINT32_MAX, s), 0ms); // "at once", and no loop of 4 billion doublings
    s.reconnect_min = 10s;
    s.reconnect_max = 1s;
    EXPECT_EQ(redis_backoff(0, s), 1s); // the maximum wins
    s.reconnect_min = 1ms;
    s.reconnect_max = Duration::max();
    EXPECT_EQ(redis_backoff(UINT32_MAX, s), Duration::max()); // capped, never overflowed
    EXPECT_GT(redis_backoff(62, s), Duration::zero());
}

TEST(RedisReplyConversion, Scalars) {
    auto r = decode_one("+OK\r\n");
    EXPECT_EQ(r.type, RedisReply::Type::Status);
    EXPECT_EQ(r.str, "OK");
    r = decode_one("-READONLY You can't write against a read only replica.\r\n");
    EXPECT_EQ(r.type, RedisReply::Type::Error);
    EXPECT_EQ(r.str, "READONLY You can't write against a read only replica.");
    r = decode_one(":-42\r\n");
    EXPECT_EQ(r.type, RedisReply::Type::Integer);
    EXPECT_EQ(r.integer, -42);
    r = decode_one("$-1\r\n");
    EXPECT_EQ(r.type, RedisReply::Type::Nil);
    EXPECT_TRUE(r.str.empty());
    r = decode_one("$0\r\n\r\n");
    EXPECT_EQ(r.type, RedisReply::Type::String);
    EXPECT_EQ(r.str, "");
}

TEST(RedisReplyConversion, BinarySafeStrings) {
    const std::string resp("$5\r\na\0b\r\n\r\n", 11);
    const auto r = decode_one(resp);
    EXPECT_EQ(r.type, RedisReply::Type::String);
    EXPECT_EQ(r.str, std::string("a\0b\r\n", 5));
}

TEST(RedisReplyConversion, NestedArrays) {
    const auto r = decode_one("*3\r\n$7\r\nmessage\r\n*2\r\n:1\r\n$-1\r\n*0\r\n");
    ASSERT_EQ(r.type, RedisReply::Type::Array);
    ASSERT_EQ(r.elements.size(), 3u);
    EXPECT_EQ(r.elements[0].str, "message");
    ASSERT_EQ(r.elements[1].elements.size(), 2u);
    EXPECT_EQ(r.elements[1].elements[0].integer, 1);
    EXPECT_EQ(r.elements[1].elements[1].type, RedisReply::Type::Nil);
    EXPECT_EQ(r.elements[2].type, RedisReply::Type::Array);
    EXPECT_TRUE(r.elements[2].elements.empty());
    EXPECT_EQ(decode_one("*-1\r\n").type, RedisReply::Type::Nil);
}

TEST(RedisReplyReader, SplitsAndJoinsAcrossFeeds) {
    RedisReplyReader reader;
    RedisReply r;
    ASSERT_TRUE(reader.feed("+O", 2));
    EXPECT_EQ(reader.next(r), RedisReplyReader::Next::NeedMore);
    ASSERT_TRUE(reader.feed("K\r\n:7\r\n", 7));
    ASSERT_EQ(reader.next(r), RedisReplyReader::Next::Reply);
    EXPECT_EQ(r.str, "OK");
    ASSERT_EQ(reader.next(r), RedisReplyReader::Next::Reply);
    EXPECT_EQ(r.integer, 7);
    EXPECT_EQ(reader.next(r), RedisReplyReader::Next::NeedMore);
    ASSERT_TRUE(reader.feed("?bad\r\n", 6));
    EXPECT_EQ(reader.next(r), RedisReplyReader::Next::ProtocolError);
}

TEST(RedisCommandEncoding, IsRespOfBulkStrings) {
    static constexpr char kExpected[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\0\r\n\r\n";
    const std::string expected(kExpected, sizeof kExpected - 1);
    std::string out;
    ASSERT_TRUE(redis_append_command(out, {"SET", "k", std::string("v\0\r\n", 4)}));
    EXPECT_EQ(out, expected);
    EXPECT_FALSE(redis_append_command(out, {}));
    EXPECT_EQ(out, expected); // unchanged
}

TEST(RedisSentinelAnswers, MasterAddressAndRole) {
    RedisResult r{RedisStatus::Ok, decode_one("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n")};
    const auto addr = redis_master_from_sentinel(r);
    ASSERT_TRUE(addr);
    EXPECT_EQ(addr->host, "127.0.0.1");
    EXPECT_EQ(addr->port, 6380);
    EXPECT_EQ(redis_address_text(*addr), "127.0.0.1:6380");
    EXPECT_EQ(redis_address_text(RedisAddress{"::1", 6379}), "[::1]:6379");
    EXPECT_FALSE(redis_master_from_sentinel(RedisResult{RedisStatus::Ok, decode_one("*-1\r\n")}));
    const auto bad_port = decode_one("*2\r\n$1\r\nh\r\n$5\r\n70000\r\n");
    EXPECT_FALSE(redis_master_from_sentinel(RedisResult{RedisStatus::Ok, bad_port}));

    EXPECT_TRUE(redis_role_is_master(RedisResult{RedisStatus::Ok, decode_one("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n")}));
    EXPECT_FALSE(redis_role_is_master(RedisResult{RedisStatus::Ok, decode_one("*1\r\n$5\r\nslave\r\n")}));
    EXPECT_FALSE(redis_role_is_master(RedisResult{RedisStatus::Timeout, {}}));
}

} // namespace haven::shared::redis_backoff_test
