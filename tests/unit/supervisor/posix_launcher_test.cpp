// The real launcher with real (short-lived) processes: exit statuses, signals to the process
// group, and what cannot run is an error of spawn. Waits run the event loop, bounded; no sleep.
#include "supervisor/posix_launcher.hpp"

#include <asio/io_context.hpp>
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <optional>

using namespace std::chrono_literals;
using namespace haven::supervisor;

namespace {

struct LauncherFixture {
    asio::io_context io;
    std::unique_ptr<Launcher> launcher = make_posix_launcher(io, haven::SystemClock::instance());
    std::optional<ExitStatus> exited;

    std::unique_ptr<Process> spawn(std::vector<std::string> argv, std::string& error, std::string cwd = "") {
        SpawnSpec s;
        s.name = "t";
        s.path = argv.at(0);
        s.argv = std::move(argv);
        s.env = {"PATH=/usr/bin:/bin"};
        s.cwd = std::move(cwd);
        return launcher->spawn(s, [this](ExitStatus st) { exited = st; }, error);
    }
    // Runs the event loop until the exit is reported, at most 10 s.
    bool wait_exit() {
        const auto until = haven::SystemClock::instance().now() + 10s;
        while (!exited && haven::SystemClock::instance().now() < until) io.run_one_for(50ms);
        return exited.has_value();
    }
};

} // namespace

TEST(PosixLauncher, ReportsTheExitStatus) {
    LauncherFixture f;
    std::string error;
    auto p = f.spawn({"/bin/sh", "-c", "exit 3"}, error);
    ASSERT_TRUE(p) << error;
    ASSERT_TRUE(f.wait_exit());
    EXPECT_EQ(f.exited->code, 3);
    EXPECT_EQ(f.exited->text(), "exit status 3");
}

TEST(PosixLauncher, SignalsReachTheWholeProcessGroup) {
    LauncherFixture f;
    std::string error;
    // The shell waits for a child of its own: SIGTERM to the group ends both.
    auto p = f.spawn({"/bin/sh", "-c", "sleep 30 & wait"}, error);
    ASSERT_TRUE(p) << error;
    EXPECT_EQ(::getpgid(p->pid()), p->pid()); // it leads its own group
    p->signal(SIGTERM);
    ASSERT_TRUE(f.wait_exit());
    EXPECT_EQ(f.exited->signal, SIGTERM);
    EXPECT_EQ(f.exited->text(), "killed by SIGTERM");
}

TEST(PosixLauncher, WhatCannotRunIsAnErrorOfSpawn) {
    LauncherFixture f;
    std::string error;
    EXPECT_FALSE(f.spawn({"/no/such/program"}, error));
    EXPECT_EQ(error, "cannot run /no/such/program: No such file or directory");
    EXPECT_FALSE(f.spawn({"/bin/true"}, error, "/no/such/dir"));
    EXPECT_EQ(error, "cannot change directory to /no/such/dir: No such file or directory");
}

TEST(PosixLauncher, DestroyingTheHandleKillsTheProcess) {
    LauncherFixture f;
    std::string error;
    auto p = f.spawn({"/bin/sleep", "30"}, error);
    ASSERT_TRUE(p) << error;
    const pid_t pid = p->pid();
    p.reset();
    const auto until = haven::SystemClock::instance().now() + 10s;
    while (::kill(pid, 0) == 0 && haven::SystemClock::instance().now() < until) f.io.run_one_for(50ms);
    EXPECT_EQ(::kill(pid, 0), -1); // killed and reaped
    EXPECT_FALSE(f.exited.has_value()); // and nobody was called back
}
