#include "support/redis_server.hpp"

#include "shared/redis/reply.hpp"

#include <hiredis/hiredis.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace haven::test {
namespace redis_support_detail {

timeval to_timeval(Duration d) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

std::string make_temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "haven-redis-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return {};
    return pattern;
}

std::string ms_text(Duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

} // namespace redis_support_detail

bool redis_program_available(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    }
    return false;
}

bool redis_required_by_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

std::uint16_t free_tcp_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
}

std::optional<shared::RedisReply> redis_sync_command(std::uint16_t port, const std::vector<std::string>& argv,
                                                     Duration timeout) {
    const timeval tv = redis_support_detail::to_timeval(timeout);
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c == nullptr) return std::nullopt;
    std::optional<shared::RedisReply> out;
    if (c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK) {
        std::vector<const char*> args;
        std::vector<std::size_t> lens;
        for (const auto& a : argv) {
            args.push_back(a.c_str());
            lens.push_back(a.size());
        }
        const int argc = static_cast<int>(argv.size());
        auto* reply = static_cast<redisReply*>(redisCommandArgv(c, argc, args.data(), lens.data()));
        if (reply != nullptr) {
            out = shared::redis_reply_from(*reply);
            freeReplyObject(reply);
        }
    }
    redisFree(c);
    return out;
}

RedisProcess::RedisProcess(std::uint16_t port)
    : port_(port != 0 ? port : free_tcp_port()), dir_(redis_support_detail::make_temp_dir()) {}

RedisProcess::~RedisProcess() {
    kill();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string RedisProcess::log() const {
    std::ifstream in(dir_ + "/log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void RedisProcess::kill() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    ok_ = false;
}

void RedisProcess::launch(const std::vector<std::string>& argv) {
    if (dir_.empty() || port_ == 0) {
        error_ = "no temporary directory or no free port";
        return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, (dir_ + "/log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP); // its own group: kill() reaches any child
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, argv.at(0).c_str(), &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        pid_ = -1;
        error_ = "cannot run " + argv.at(0) + ": " + std::strerror(rc);
        return;
    }
    const auto until = SystemClock::instance().now() + std::chrono::seconds(5);
    while (SystemClock::instance().now() < until) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = argv.at(0) + " exited at once:\n" + log();
            return;
        }
        const auto pong = redis_sync_command(port_, {"PING"}, std::chrono::milliseconds(200));
        if (pong && pong->str == "PONG") {
            ok_ = true;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20)); // the polling interval
    }
    error_ = argv.at(0) + " did not answer PING within 5 s:\n" + log();
}

RedisServerProcess::RedisServerProcess(std::vector<std::string> extra_args, std::uint16_t port) : RedisProcess(port) {
    std::vector<std::string> argv{"redis-server", "--port", std::to_string(port_), "--save", "",
                                  "--appendonly", "no", "--bind", "127.0.0.1", "--daemonize", "no",
                                  "--dir", dir_};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    launch(argv);
}

RedisSentinelProcess::RedisSentinelProcess(std::uint16_t master_port, const std::string& master_name,
                                           Duration down_after, Duration failover_timeout)
    : RedisProcess(0) {
    using redis_support_detail::ms_text;
    if (dir_.empty()) {
        error_ = "no temporary directory";
        return;
    }
    const std::string conf = dir_ + "/sentinel.conf"; // the sentinel rewrites it: a file of its own
    std::ofstream out(conf);
    out << "port " << port_ << "\nbind 127.0.0.1\ndaemonize no\ndir " << dir_ << "\n"
        << "sentinel monitor " << master_name << " 127.0.0.1 " << master_port << " 1\n"
        << "sentinel down-after-milliseconds " << master_name << " " << ms_text(down_after) << "\n"
        << "sentinel failover-timeout " << master_name << " " << ms_text(failover_timeout) << "\n";
    out.close();
    launch({"redis-sentinel", conf});
}

} // namespace haven::test
