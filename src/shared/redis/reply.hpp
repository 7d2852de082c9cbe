// The Redis protocol, by hiredis: commands encoded with redisFormatCommandArgv, answers decoded
// by its reader and copied into RedisReply. Nothing here touches a socket. Internal to
// src/shared/redis/ (and its tests).
#pragma once

#include "shared/redis/client.hpp"

#include <string>
#include <vector>

struct redisReader; // hiredis, kept out of this header
struct redisReply;

namespace haven::shared {

// A copy of a hiredis reply (arrays deeply).
RedisReply redis_reply_from(const redisReply& r);

// Appends the RESP encoding of `argv` to `out`; false (and `out` unchanged) when argv is empty or
// hiredis cannot allocate.
bool redis_append_command(std::string& out, const std::vector<std::string>& argv);

// The text of "host:port" ("[::1]:6379" for IPv6).
std::string redis_address_text(const RedisAddress& a);

// Incremental decoding of the bytes one connection receives.
class RedisReplyReader {
public:
    enum class Next : std::uint8_t { Reply, NeedMore, ProtocolError };

    RedisReplyReader();
    ~RedisReplyReader();
    RedisReplyReader(const RedisReplyReader&) = delete;
    RedisReplyReader& operator=(const RedisReplyReader&) = delete;

    // False when the reader is broken (out of memory, or an earlier protocol error).
    bool feed(const char* data, std::size_t n);
    // The next complete reply into `out`, if the bytes fed so far hold one.
    Next next(RedisReply& out);

private:
    redisReader* reader_;
};

} // namespace haven::shared
