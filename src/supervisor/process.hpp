// src/supervisor: haven runs the processes of its `services:` and heals them (docs/supervisor.md).
// Each replica of a service is a child process in its own process group that dies with haven
// (PR_SET_PDEATHSIG); it is restarted with exponential backoff when it exits, killed and restarted
// when its liveness probe fails, and takes traffic (through the pools that take their servers from
// its service) only while its readiness probe passes. Everything runs on the control thread.
//
// This file: starting and signalling one child process, behind an interface so that the replica
// state machine is tested on a fake (tests/unit/supervisor/fake_launcher.hpp) and the real one
// (posix_launcher.cpp) only in integration tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace haven::supervisor {

// How a process ended.
struct ExitStatus {
    int code = 0;   // its exit code, when it exited
    int signal = 0; // the signal that killed it, else 0
    bool success() const { return signal == 0 && code == 0; }
    // "exit status 1", "killed by SIGKILL"
    std::string text() const;
};

struct SpawnSpec {
    std::string name;              // in haven's log: "web-1"
    std::string path;              // the executable
    std::vector<std::string> argv; // argv[0] included
    std::vector<std::string> env;  // "NAME=value", the whole environment
    std::string cwd;               // empty: haven's
    std::optional<std::pair<uid_t, gid_t>> user;
    bool capture_output = true;    // false: stdout and stderr go to /dev/null (exec probes)
    std::uint32_t max_line = 4096;
    std::uint32_t lines_per_second = 200;
};

// One running child. Destroying it kills what is left of its process group (SIGKILL) and reaps
// it; its on_exit is then never called.
class Process {
public:
    virtual ~Process() = default;
    virtual pid_t pid() const = 0;
    // To the whole process group, so that a shell's children get it too.
    virtual void signal(int sig) = 0;
    // Blocks up to `max` for the process to exit (shutdown only: the event loop is done then).
    // On exit fills `status`, and on_exit is never called.
    virtual bool wait_blocking(std::chrono::milliseconds max, ExitStatus& status) = 0;
    // Output lines not logged because of the per-second limit.
    virtual std::uint64_t lines_dropped() const = 0;
};

class Launcher {
public:
    using OnExit = std::function<void(ExitStatus)>;
    virtual ~Launcher() = default;
    // Starts the process. nullptr with `error` set when it cannot run (fork failed, exec failed,
    // no such directory, cannot switch user). `on_exit` is called once, on the control thread and
    // never from within spawn, when the process exits; it may destroy the Process.
    virtual std::unique_ptr<Process> spawn(const SpawnSpec& spec, OnExit on_exit, std::string& error) = 0;
};

} // namespace haven::supervisor
