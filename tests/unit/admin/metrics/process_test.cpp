#include "admin/metrics/exposition.hpp"
#include "core/clock.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <ctime>
#include <vector>

namespace haven::admin::metrics {
namespace {

// CPU time this process used, from the kernel's own clock (not /proc).
double process_cpu_now() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

TEST(ProcessStats, PlausibleNumbersForThisProcess) {
    const ProcessStats s = read_process_stats();
    EXPECT_GT(s.resident_bytes, 1u << 20);
    EXPECT_GE(s.virtual_bytes, s.resident_bytes);
    EXPECT_GE(s.open_fds, 3u); // stdin, stdout, stderr
    EXPECT_GE(s.max_fds, s.open_fds);
    EXPECT_GE(s.threads, 1u);
    // CPU time: within the clock ticks' resolution of what the kernel counts for this process
    // (CpuSecondsFollowsTheCpuThisProcessUses checks that it moves).
    EXPECT_NEAR(s.cpu_seconds, process_cpu_now(), 0.05);
    // The test binary started moments ago; allow an hour for slow CI and coarse btime.
    const double now = static_cast<double>(wall_time_us()) / 1e6;
    EXPECT_LE(s.start_time_seconds, now + 2);
    EXPECT_GT(s.start_time_seconds, now - 3600);
}

TEST(ProcessStats, CpuSecondsFollowsTheCpuThisProcessUses) {
    const double before = read_process_stats().cpu_seconds;
    const double start = process_cpu_now();
    volatile std::uint64_t sink = 0;
    while (process_cpu_now() - start < 0.2) {
        for (int i = 0; i < 100000; ++i) sink = sink + static_cast<std::uint64_t>(i);
    }
    const double used = read_process_stats().cpu_seconds - before;
    // /proc counts in clock ticks (usually 10 ms): allow two ticks either way.
    EXPECT_GT(used, 0.2 - 0.03);
    EXPECT_LT(used, process_cpu_now() - start + 0.03);
}

TEST(ProcessStats, OpenFdsFollowsDescriptorsWeOpen) {
    const std::uint64_t before = read_process_stats().open_fds;
    const int fd = ::dup(1);
    ASSERT_GE(fd, 0);
    const std::uint64_t during = read_process_stats().open_fds;
    ::close(fd);
    EXPECT_EQ(during, before + 1);
}

TEST(ProcessMetrics, WritesTheStandardFamilies) {
    ProcessStats s;
    s.cpu_seconds = 1.25;
    s.resident_bytes = 4096;
    s.virtual_bytes = 8192;
    s.open_fds = 7;
    s.max_fds = 1024;
    s.start_time_seconds = 1700000000.5;
    s.threads = 4;
    Exposition e;
    add_process_metrics(e, s);
    const std::string text = e.str();
    for (const char* line : {"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.25\n",
                             "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 4096\n",
                             "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes 8192\n",
                             "# TYPE process_open_fds gauge\nprocess_open_fds 7\n",
                             "# TYPE process_max_fds gauge\nprocess_max_fds 1024\n",
                             "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1700000000.5\n",
                             "# TYPE process_threads gauge\nprocess_threads 4\n"})
        EXPECT_NE(text.find(line), std::string::npos) << "missing:\n" << line << "in:\n" << text;
}

// A scrape shaped like haven's: labelled counters and gauges, a histogram, process metrics.
std::string realistic_scrape() {
    Exposition e;
    const double bounds[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
    const std::uint64_t counts[] = {3, 10, 40, 12, 5, 2, 1, 0, 0, 0, 1};
    for (const char* route : {"api", "static"}) {
        e.counter("haven_requests_total", "Requests received from clients.", {{"route", route}, {"code", "200"}},
                  1234567890123.0);
        e.histogram("haven_request_duration_seconds", "Time from request headers to the last response byte.",
                    {{"route", route}}, bounds, counts, 1.0 / 3);
        e.gauge("haven_upstream_healthy", "Whether a host passes health checks (1) or not (0).",
                {{"pool", "api"}, {"host", std::string(route) + "\"quoted\\path\n"}}, 1);
    }
    e.gauge("haven_config_reload_timestamp_seconds", "When the configuration was last loaded.\nSee \\docs.", {},
            1.7e9 + 0.25);
    add_process_metrics(e, read_process_stats());
    return e.str();
}

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(ProcessMetrics, RealisticScrapePassesPromtool) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "promtool not installed (Debian package `prometheus`); CI installs it";
    const std::string dir = ::testing::TempDir();
    std::string input = dir + "haven_metrics_XXXXXX";
    const int fd = ::mkstemp(input.data());
    ASSERT_GE(fd, 0);
    const std::string text = realistic_scrape();
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    const std::string output = input + ".out";
    const int status = std::system(("promtool check metrics < '" + input + "' > '" + output + "' 2>&1").c_str());
    const std::string problems = read_all(output);
    std::remove(input.c_str());
    std::remove(output.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << problems << "\nfor:\n" << text;
    EXPECT_EQ(problems, "") << "for:\n" << text;
}

} // namespace
} // namespace haven::admin::metrics
