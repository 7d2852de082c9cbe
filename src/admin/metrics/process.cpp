// The standard process_* metrics, read from Linux's /proc. Each reading that fails (no /proc,
// e.g. in a restricted sandbox) leaves its fields at 0 rather than failing the scrape.
#include "admin/metrics/exposition.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace haven::admin::metrics {
namespace {

// Reads a whole /proc file. Their stat() size is 0, so read until EOF instead of sizing first.
std::string read_file(const char* path) {
    std::string out;
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    ::close(fd);
    return out;
}

// Splits `s` at spaces into at most N fields; returns how many were found.
template <std::size_t N>
std::size_t split_fields(std::string_view s, std::string_view (&out)[N]) {
    std::size_t count = 0;
    std::size_t pos = 0;
    while (count < N) {
        pos = s.find_first_not_of(' ', pos);
        if (pos == std::string_view::npos)
            break;
        std::size_t end = s.find(' ', pos);
        if (end == std::string_view::npos)
            end = s.size();
        out[count++] = s.substr(pos, end - pos);
        pos = end;
    }
    return count;
}

std::uint64_t to_u64(std::string_view s) {
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

// Seconds since the epoch at which the machine booted: /proc/stat's "btime" line.
std::uint64_t boot_time_seconds() {
    const std::string stat = read_file("/proc/stat");
    const std::string_view key = "\nbtime ";
    const std::size_t pos = stat.find(key);
    if (pos == std::string::npos)
        return 0;
    const std::size_t start = pos + key.size();
    return to_u64(std::string_view(stat).substr(start, stat.find('\n', start) - start));
}

// Fills cpu, memory, threads and start time from /proc/self/stat (see proc(5)).
void read_self_stat(ProcessStats& s) {
    const std::string stat = read_file("/proc/self/stat");
    // Field 2 is the command name in parentheses, and the name itself may contain spaces and
    // ')': the fixed-position fields start after the LAST ')'.
    const std::size_t paren = stat.rfind(')');
    if (paren == std::string::npos)
        return;
    // Indexes from field 3 (state) on: proc(5) field number minus 3.
    enum : std::size_t { Utime = 11, Stime = 12, NumThreads = 17, StartTime = 19, Vsize = 20, Rss = 21 };
    std::string_view f[Rss + 1];
    if (split_fields(std::string_view(stat).substr(paren + 1), f) <= Rss)
        return;
    const long ticks = ::sysconf(_SC_CLK_TCK);
    const long page = ::sysconf(_SC_PAGESIZE);
    if (ticks <= 0 || page <= 0)
        return;
    s.cpu_seconds = static_cast<double>(to_u64(f[Utime]) + to_u64(f[Stime])) / static_cast<double>(ticks);
    s.threads = to_u64(f[NumThreads]);
    s.virtual_bytes = to_u64(f[Vsize]);
    s.resident_bytes = to_u64(f[Rss]) * static_cast<std::uint64_t>(page);
    // starttime counts ticks since boot; boot time turns it into wall-clock time without
    // reading a clock here.
    const std::uint64_t boot = boot_time_seconds();
    if (boot != 0)
        s.start_time_seconds =
            static_cast<double>(boot) + static_cast<double>(to_u64(f[StartTime])) / static_cast<double>(ticks);
}

// Entries of /proc/self/fd, not counting the descriptor that lists the directory itself: it
// exists only while we count.
std::uint64_t count_open_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr)
        return 0;
    char own[16];
    const auto r = std::to_chars(own, own + sizeof own - 1, ::dirfd(dir));
    *r.ptr = '\0';
    std::uint64_t n = 0;
    while (const dirent* e = ::readdir(dir)) {
        if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0 ||
            std::strcmp(e->d_name, own) == 0)
            continue;
        ++n;
    }
    ::closedir(dir);
    return n;
}

} // namespace

ProcessStats read_process_stats() {
    ProcessStats s;
    read_self_stat(s);
    s.open_fds = count_open_fds();
    // The soft limit is the one open() fails at; RLIM_INFINITY is reported as such (huge).
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0)
        s.max_fds = static_cast<std::uint64_t>(lim.rlim_cur);
    return s;
}

void add_process_metrics(Exposition& e, const ProcessStats& s) {
    const Labels none;
    e.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", none, s.cpu_seconds);
    e.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", none,
            static_cast<double>(s.resident_bytes));
    e.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", none,
            static_cast<double>(s.virtual_bytes));
    e.gauge("process_open_fds", "Number of open file descriptors.", none, static_cast<double>(s.open_fds));
    e.gauge("process_max_fds", "Maximum number of open file descriptors.", none, static_cast<double>(s.max_fds));
    e.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", none,
            s.start_time_seconds);
    e.gauge("process_threads", "Number of OS threads in the process.", none, static_cast<double>(s.threads));
}

} // namespace haven::admin::metrics
