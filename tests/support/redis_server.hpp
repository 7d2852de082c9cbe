// Real redis-server and redis-sentinel processes for the Redis client's tests: each on 127.0.0.1,
// on a port the kernel picked (or a given one, to restart "the same" server), in a temporary
// directory of its own, in a process group of its own that the destructor kills. Construction
// waits (at most 5 s) until the process answers PING.
//
// command() talks to the process with hiredis' blocking API: test code only, to set up and to
// observe (replication up, the sentinel knows the replica), never through the client under test.
#pragma once

#include "core/clock.hpp"
#include "shared/redis/client.hpp"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace haven::test {

// Whether `program` is on PATH. Tests skip without redis-server, unless CI=true (then they fail).
bool redis_program_available(const std::string& program);
bool redis_required_by_ci();

// A port that was free a moment ago (bound to port 0, then released).
std::uint16_t free_tcp_port();

// One blocking command to 127.0.0.1:port; nullopt when it could not be sent or answered.
std::optional<shared::RedisReply> redis_sync_command(std::uint16_t port, const std::vector<std::string>& argv,
                                                     Duration timeout = std::chrono::seconds(1));

class RedisProcess {
public:
    RedisProcess(const RedisProcess&) = delete;
    RedisProcess& operator=(const RedisProcess&) = delete;
    virtual ~RedisProcess(); // kill()

    bool ok() const { return ok_; }             // it answered PING
    const std::string& error() const { return error_; }
    std::uint16_t port() const { return port_; }
    const std::string& dir() const { return dir_; } // its working directory; its log is dir()/log
    std::string log() const;                    // what it printed, for failure messages

    std::optional<shared::RedisReply> command(const std::vector<std::string>& argv) const {
        return redis_sync_command(port_, argv);
    }
    // SIGKILL to its process group, and the process reaped. Idempotent.
    void kill();

protected:
    explicit RedisProcess(std::uint16_t port);
    // Runs argv (argv[0] looked up on PATH) and waits for PING.
    void launch(const std::vector<std::string>& argv);

    std::uint16_t port_;
    std::string dir_;
    std::string error_;
    pid_t pid_ = -1;
    bool ok_ = false;
};

class RedisServerProcess : public RedisProcess {
public:
    // redis-server --port N --save "" --appendonly no --bind 127.0.0.1 --daemonize no <extra...>;
    // port 0: a free one.
    explicit RedisServerProcess(std::vector<std::string> extra_args = {}, std::uint16_t port = 0);
};

class RedisSentinelProcess : public RedisProcess {
public:
    // redis-sentinel watching 127.0.0.1:master_port as `master_name`, quorum 1, with the given
    // down-after and failover timeouts.
    RedisSentinelProcess(std::uint16_t master_port, const std::string& master_name,
                         Duration down_after = std::chrono::milliseconds(500),
                         Duration failover_timeout = std::chrono::milliseconds(3000));
};

} // namespace haven::test
