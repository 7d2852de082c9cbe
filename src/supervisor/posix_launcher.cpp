#include "supervisor/posix_launcher.hpp"

#include "supervisor/line_sink.hpp"

#include <asio/posix/stream_descriptor.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace haven::supervisor {
namespace {

// What the child reports through the status pipe when it cannot get to exec.
struct ChildFailure {
    int stage = 0; // 1 chdir, 2 user, 3 exec
    int error = 0;
};

std::string signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

struct OutputPipe {
    OutputPipe(asio::io_context& io, int fd, LineSink sink) : sd(io, fd), sink(std::move(sink)) {}
    asio::posix::stream_descriptor sd;
    LineSink sink;
    std::array<char, 8192> buf{};
    bool open = true;
};

// One child, shared between its Process handle and the handlers pending on the event loop, so
// that a handler that runs after the handle is gone finds something valid (and nobody to call).
struct Child {
    Child(asio::io_context& io, const Clock& clock, pid_t p, int pidfd) : clock(clock), pid(p), pidfd(io, pidfd) {}
    const Clock& clock;
    pid_t pid;
    asio::posix::stream_descriptor pidfd;
    std::vector<std::unique_ptr<OutputPipe>> pipes;
    Launcher::OnExit on_exit;
    bool reaped = false;
    std::uint64_t dropped = 0;

    // The group leader exited (it is a zombie, so its pid and group id are still ours): kill
    // whatever else it left in its group, reap it, and log the output it wrote last.
    ExitStatus reap() {
        ::kill(-pid, SIGKILL);
        int st = 0;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        reaped = true;
        for (auto& p : pipes) drain(*p);
        pidfd.close();
        ExitStatus out;
        if (WIFSIGNALED(st)) out.signal = WTERMSIG(st);
        else out.code = WEXITSTATUS(st);
        return out;
    }

    // What is in the pipe now, without waiting (bounded: a grandchild may still be writing).
    void drain(OutputPipe& p) {
        if (!p.open) return;
        for (int i = 0; i < 128; ++i) {
            const ssize_t n = ::read(p.sd.native_handle(), p.buf.data(), p.buf.size());
            if (n <= 0) break;
            p.sink.feed({p.buf.data(), static_cast<std::size_t>(n)}, clock.now());
        }
        close(p);
    }

    void close(OutputPipe& p) {
        if (!p.open) return;
        p.open = false;
        p.sink.finish(clock.now());
        dropped += p.sink.dropped();
        asio::error_code ignored;
        p.sd.close(ignored);
    }
};

void read_more(const std::shared_ptr<Child>& c, OutputPipe& p) {
    p.sd.async_read_some(asio::buffer(p.buf), [c, &p](const asio::error_code& ec, std::size_t n) {
        if (!p.open) return;
        if (n > 0) p.sink.feed({p.buf.data(), n}, c->clock.now());
        if (ec) {
            c->close(p);
            return;
        }
        read_more(c, p);
    });
}

void watch_exit(const std::shared_ptr<Child>& c) {
    c->pidfd.async_wait(asio::posix::stream_descriptor::wait_read, [c](const asio::error_code& ec) {
        if (ec || c->reaped) return;
        const auto status = c->reap();
        auto done = std::move(c->on_exit);
        c->on_exit = nullptr;
        if (done) done(status); // last: it may destroy the Process
    });
}

class PosixProcess final : public Process {
public:
    explicit PosixProcess(std::shared_ptr<Child> c) : c_(std::move(c)) {}
    ~PosixProcess() override {
        c_->on_exit = nullptr;
        if (c_->reaped) return;
        ::kill(-c_->pid, SIGKILL);
        // SIGKILL cannot be refused: the pending exit watch reaps it in a moment.
    }
    pid_t pid() const override { return c_->pid; }
    void signal(int sig) override {
        if (!c_->reaped) ::kill(-c_->pid, sig);
    }
    bool wait_blocking(std::chrono::milliseconds max, ExitStatus& status) override {
        if (c_->reaped) return true;
        pollfd p{c_->pidfd.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(max.count())) != 1) return false;
        c_->on_exit = nullptr;
        status = c_->reap();
        return true;
    }
    std::uint64_t lines_dropped() const override {
        std::uint64_t n = c_->dropped;
        for (const auto& p : c_->pipes) n += p->open ? p->sink.dropped() : 0;
        return n;
    }

private:
    std::shared_ptr<Child> c_;
};

// Everything the child needs is prepared before fork: in a process with other threads, only
// async-signal-safe calls are allowed between fork and exec.
struct Prepared {
    std::vector<char*> argv;
    std::vector<char*> envp;
    std::vector<gid_t> groups;
    int devnull = -1;
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    int status[2] = {-1, -1};
};

[[noreturn]] void fail_child(int fd, int stage) {
    const ChildFailure f{stage, errno};
    [[maybe_unused]] const auto n = ::write(fd, &f, sizeof f);
    ::_exit(127);
}

[[noreturn]] void run_child(const SpawnSpec& spec, const Prepared& p, pid_t parent) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127); // haven died before the line above took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL); // haven ignores SIGPIPE; children must not
    ::dup2(p.devnull, STDIN_FILENO);
    ::dup2(p.out[1] >= 0 ? p.out[1] : p.devnull, STDOUT_FILENO);
    ::dup2(p.err[1] >= 0 ? p.err[1] : p.devnull, STDERR_FILENO);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) fail_child(p.status[1], 1);
    if (spec.user) {
        if (::setgroups(p.groups.size(), p.groups.data()) != 0 || ::setgid(spec.user->second) != 0 ||
            ::setuid(spec.user->first) != 0) {
            fail_child(p.status[1], 2);
        }
    }
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC); // the status pipe is already close-on-exec
    ::execve(spec.path.c_str(), p.argv.data(), p.envp.data());
    fail_child(p.status[1], 3);
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

void close_all(Prepared& p) {
    for (int* fd : {&p.devnull, &p.out[0], &p.out[1], &p.err[0], &p.err[1], &p.status[0], &p.status[1]}) close_fd(*fd);
}

bool prepare(const SpawnSpec& spec, Prepared& p, std::string& error) {
    for (const auto& a : spec.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
    p.argv.push_back(nullptr);
    for (const auto& e : spec.env) p.envp.push_back(const_cast<char*>(e.c_str()));
    p.envp.push_back(nullptr);
    if (spec.user) {
        passwd pw{};
        passwd* found = nullptr;
        char buf[16384];
        int n = 64;
        p.groups.resize(static_cast<std::size_t>(n));
        if (::getpwuid_r(spec.user->first, &pw, buf, sizeof buf, &found) == 0 && found &&
            ::getgrouplist(pw.pw_name, spec.user->second, p.groups.data(), &n) >= 0) {
            p.groups.resize(static_cast<std::size_t>(n));
        } else {
            p.groups.assign(1, spec.user->second);
        }
    }
    p.devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    const bool ok = p.devnull >= 0 && ::pipe2(p.status, O_CLOEXEC) == 0 &&
                    (!spec.capture_output || (::pipe2(p.out, O_CLOEXEC) == 0 && ::pipe2(p.err, O_CLOEXEC) == 0));
    if (!ok) error = std::string("cannot create pipes: ") + std::strerror(errno);
    return ok;
}

std::string failure_text(const SpawnSpec& spec, ChildFailure f) {
    const char* why = std::strerror(f.error);
    switch (f.stage) {
    case 1: return fmt::format("cannot change directory to {}: {}", spec.cwd, why);
    case 2: return fmt::format("cannot switch to uid {}: {}", spec.user ? spec.user->first : 0, why);
    default: return fmt::format("cannot run {}: {}", spec.path, why);
    }
}

class PosixLauncher final : public Launcher {
public:
    PosixLauncher(asio::io_context& io, const Clock& clock) : io_(io), clock_(clock) {}

    std::unique_ptr<Process> spawn(const SpawnSpec& spec, OnExit on_exit, std::string& error) override {
        Prepared p;
        if (!prepare(spec, p, error)) {
            close_all(p);
            return nullptr;
        }
        const pid_t parent = ::getpid();
        const pid_t pid = ::fork();
        if (pid == 0) run_child(spec, p, parent);
        if (pid < 0) {
            error = std::string("fork failed: ") + std::strerror(errno);
            close_all(p);
            return nullptr;
        }
        close_fd(p.status[1]);
        close_fd(p.out[1]);
        close_fd(p.err[1]);
        close_fd(p.devnull);
        // Returns at exec (the pipe closes) or with the reason the child could not get there.
        ChildFailure failure;
        ssize_t n = 0;
        while ((n = ::read(p.status[0], &failure, sizeof failure)) < 0 && errno == EINTR) {
        }
        close_fd(p.status[0]);
        if (n == static_cast<ssize_t>(sizeof failure)) {
            error = failure_text(spec, failure);
            while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
            }
            close_all(p);
            return nullptr;
        }
        // glibc 2.36 declares pidfd_open without C linkage in C++; call the syscall.
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (pidfd < 0) {
            error = std::string("pidfd_open failed: ") + std::strerror(errno);
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            close_all(p);
            return nullptr;
        }
        auto child = std::make_shared<Child>(io_, clock_, pid, pidfd);
        child->on_exit = std::move(on_exit);
        if (spec.capture_output) add_pipes(*child, spec, p);
        for (auto& pipe : child->pipes) read_more(child, *pipe);
        watch_exit(child);
        return std::make_unique<PosixProcess>(std::move(child));
    }

private:
    void add_pipes(Child& c, const SpawnSpec& spec, Prepared& p) {
        for (int* fd : {&p.out[0], &p.err[0]}) {
            ::fcntl(*fd, F_SETFL, ::fcntl(*fd, F_GETFL) | O_NONBLOCK);
            const std::string tag = fd == &p.out[0] ? spec.name : spec.name + " stderr";
            LineSink sink(spec.max_line, spec.lines_per_second,
                          [tag](std::string_view line) { spdlog::info("[{}] {}", tag, line); });
            c.pipes.push_back(std::make_unique<OutputPipe>(io_, *fd, std::move(sink)));
            *fd = -1; // the descriptor belongs to the pipe now
        }
    }

    asio::io_context& io_;
    const Clock& clock_;
};

} // namespace

std::string ExitStatus::text() const {
    if (signal != 0) return "killed by " + signal_name(signal);
    return "exit status " + std::to_string(code);
}

std::unique_ptr<Launcher> make_posix_launcher(asio::io_context& io, const Clock& clock) {
    return std::make_unique<PosixLauncher>(io, clock);
}

} // namespace haven::supervisor
