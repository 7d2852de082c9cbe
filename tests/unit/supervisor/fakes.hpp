// Fakes for the supervisor's unit tests: a Launcher whose processes exit when the test says so
// (their signals are recorded; SIGKILL, which cannot be refused, ends them at once), a
// TrafficGate that records what it was told and reports a settable in-flight count, and a probe
// factory handing out FakeProbes the test controls by replica and probe kind.
#pragma once

#include "support/fake_probe.hpp"
#include "support/manual_scheduler.hpp"
#include "supervisor/replica_env.hpp"

#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace haven::test {

struct FakeChild {
    supervisor::SpawnSpec spec;
    pid_t pid = 0;
    std::vector<int> signals;
    supervisor::Launcher::OnExit on_exit;
    bool exited = false;
    bool handle_alive = true;
};

class FakeLauncher final : public supervisor::Launcher {
public:
    explicit FakeLauncher(ManualScheduler& s) : sched_(s) {}

    std::unique_ptr<supervisor::Process> spawn(const supervisor::SpawnSpec& spec, OnExit on_exit,
                                               std::string& error) override {
        if (fail_next) {
            fail_next = false;
            error = "cannot run " + spec.path + ": No such file or directory";
            return nullptr;
        }
        auto c = std::make_shared<FakeChild>();
        c->spec = spec;
        c->pid = next_pid_++;
        c->on_exit = std::move(on_exit);
        children.push_back(c);
        return std::make_unique<Proc>(c, *this);
    }

    // The process exits now; on_exit runs from the event loop (never inline), as the real one's.
    void exit(const std::shared_ptr<FakeChild>& c, supervisor::ExitStatus st) {
        if (c->exited) return;
        c->exited = true;
        sched_.post([c, st] {
            if (c->on_exit && c->handle_alive) c->on_exit(st);
        });
    }
    std::shared_ptr<FakeChild> last() const { return children.empty() ? nullptr : children.back(); }
    std::size_t running() const {
        std::size_t n = 0;
        for (const auto& c : children) n += c->exited ? 0 : 1;
        return n;
    }

    std::vector<std::shared_ptr<FakeChild>> children;
    bool fail_next = false;
    bool term_exits = true; // SIGTERM ends the process (else only SIGKILL does)

private:
    class Proc final : public supervisor::Process {
    public:
        Proc(std::shared_ptr<FakeChild> c, FakeLauncher& l) : c_(std::move(c)), l_(l) {}
        ~Proc() override {
            c_->handle_alive = false;
            c_->exited = true; // the real one kills the group
        }
        pid_t pid() const override { return c_->pid; }
        void signal(int sig) override {
            c_->signals.push_back(sig);
            if (sig == SIGKILL || (sig == SIGTERM && l_.term_exits)) l_.exit(c_, {0, sig});
        }
        bool wait_blocking(std::chrono::milliseconds, supervisor::ExitStatus& st) override {
            if (!c_->exited) return false;
            st = {0, SIGTERM};
            c_->handle_alive = false;
            return true;
        }
        std::uint64_t lines_dropped() const override { return 0; }

    private:
        std::shared_ptr<FakeChild> c_;
        FakeLauncher& l_;
    };

    ManualScheduler& sched_;
    pid_t next_pid_ = 1000;
};

class FakeGate final : public supervisor::TrafficGate {
public:
    void set_serving(const std::string&, const std::string& replica, bool serving, std::string_view) override {
        serving_[replica] = serving;
        log.push_back(replica + (serving ? " on" : " off"));
    }
    std::uint64_t in_flight(const std::string&, const std::string& replica) override { return in_flight_[replica]; }

    bool serving(const std::string& replica) const {
        const auto it = serving_.find(replica);
        return it != serving_.end() && it->second;
    }
    std::map<std::string, std::uint64_t> in_flight_;
    std::vector<std::string> log;

private:
    std::map<std::string, bool> serving_;
};

// Each probe made for ("web-1", "readiness") shares one FakeProbeControl.
class FakeProbes {
public:
    explicit FakeProbes(ManualScheduler& s) : sched_(s) {}
    supervisor::ProbeFactory factory() {
        return [this](const config::Service& s, const config::ServiceProbe& p, const config::ReplicaVars& vars) {
            const bool liveness = s.liveness && &p == &*s.liveness;
            return std::make_unique<FakeProbe>(control(vars.name, liveness ? "liveness" : "readiness"), &sched_);
        };
    }
    std::shared_ptr<FakeProbeControl> control(const std::string& replica, const std::string& kind) {
        auto& c = controls_[replica + "/" + kind];
        if (!c) {
            c = std::make_shared<FakeProbeControl>();
            c->latency = std::chrono::milliseconds(1);
        }
        return c;
    }

private:
    ManualScheduler& sched_;
    std::map<std::string, std::shared_ptr<FakeProbeControl>> controls_;
};

} // namespace haven::test
