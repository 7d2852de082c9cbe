#include "shared/redis/reply.hpp"

#include <hiredis/hiredis.h>

#include <array>

namespace haven::shared {

RedisReply redis_reply_from(const redisReply& r) {
    RedisReply out;
    switch (r.type) {
    case REDIS_REPLY_INTEGER:
        out.type = RedisReply::Type::Integer;
        out.integer = r.integer;
        break;
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::String; break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::Status; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::Error; break;
    case REDIS_REPLY_ARRAY:
        out.type = RedisReply::Type::Array;
        out.elements.reserve(r.elements);
        for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(redis_reply_from(*r.element[i]));
        break;
    default: out.type = RedisReply::Type::Nil; break; // NIL, and any type a newer server might add
    }
    const bool textual = out.type == RedisReply::Type::String || out.type == RedisReply::Type::Status ||
                         out.type == RedisReply::Type::Error;
    if (textual && r.str != nullptr) out.str.assign(r.str, r.len);
    return out;
}

bool redis_append_command(std::string& out, const std::vector<std::string>& argv) {
    if (argv.empty()) return false;
    // Pointers and lengths on the stack for the usual short commands; the heap only for long ones.
    constexpr std::size_t kInline = 8;
    std::array<const char*, kInline> ptr_buf{};
    std::array<std::size_t, kInline> len_buf{};
    std::vector<const char*> ptr_heap;
    std::vector<std::size_t> len_heap;
    const char** ptrs = ptr_buf.data();
    std::size_t* lens = len_buf.data();
    if (argv.size() > kInline) {
        ptr_heap.resize(argv.size());
        len_heap.resize(argv.size());
        ptrs = ptr_heap.data();
        lens = len_heap.data();
    }
    for (std::size_t i = 0; i < argv.size(); ++i) {
        ptrs[i] = argv[i].data();
        lens[i] = argv[i].size();
    }
    char* cmd = nullptr;
    const int n = redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), ptrs, lens);
    if (n < 0 || cmd == nullptr) return false;
    out.append(cmd, static_cast<std::size_t>(n));
    redisFreeCommand(cmd);
    return true;
}

std::string redis_address_text(const RedisAddress& a) {
    const bool v6 = a.host.find(':') != std::string::npos;
    return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

RedisReplyReader::RedisReplyReader() : reader_(redisReaderCreate()) {}

RedisReplyReader::~RedisReplyReader() {
    if (reader_ != nullptr) redisReaderFree(reader_);
}

bool RedisReplyReader::feed(const char* data, std::size_t n) {
    return reader_ != nullptr && redisReaderFeed(reader_, data, n) == REDIS_OK;
}

RedisReplyReader::Next RedisReplyReader::next(RedisReply& out) {
    if (reader_ == nullptr) return Next::ProtocolError;
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return Next::ProtocolError;
    if (raw == nullptr) return Next::NeedMore;
    out = redis_reply_from(*static_cast<const redisReply*>(raw));
    freeReplyObject(raw);
    return Next::Reply;
}

} // namespace haven::shared
