#include "supervisor/exec_probe.hpp"

namespace haven::supervisor {
namespace {

class ExecProbe final : public upstream::Probe {
public:
    ExecProbe(Launcher& launcher, Scheduler& scheduler, SpawnSpec spec, Duration timeout)
        : launcher_(launcher), scheduler_(scheduler), spec_(std::move(spec)), timeout_(timeout),
          timer_(scheduler.make_timer()) {}
    ~ExecProbe() override { give_up(); }

    void start(std::function<void(upstream::ProbeResult)> done) override {
        give_up();
        session_ = std::make_shared<bool>(true);
        const auto started = scheduler_.now();
        auto finish = [this, session = session_, done = std::move(done), started](bool ok, std::string why) {
            if (!*session) return;
            *session = false;
            timer_->cancel();
            process_.reset(); // at a timeout: SIGKILL to what is left of its group
            done(upstream::ProbeResult{ok, std::move(why), scheduler_.now() - started, 0});
        };
        std::string error;
        process_ = launcher_.spawn(
            spec_, [finish](ExitStatus st) mutable { finish(st.success(), st.success() ? "ok" : st.text()); }, error);
        if (!process_) {
            // Reported from the event loop, as a running probe's result would be.
            scheduler_.post([finish, error]() mutable { finish(false, error); });
            return;
        }
        timer_->arm(timeout_, [finish]() mutable { finish(false, "timeout (killed)"); });
    }

private:
    void give_up() {
        if (session_) *session_ = false;
        timer_->cancel();
        process_.reset();
    }

    Launcher& launcher_;
    Scheduler& scheduler_;
    SpawnSpec spec_;
    Duration timeout_;
    std::unique_ptr<Timer> timer_;
    std::unique_ptr<Process> process_;
    std::shared_ptr<bool> session_;
};

} // namespace

std::unique_ptr<upstream::Probe> make_exec_probe(Launcher& launcher, Scheduler& scheduler, SpawnSpec spec,
                                                 Duration timeout) {
    return std::make_unique<ExecProbe>(launcher, scheduler, std::move(spec), timeout);
}

} // namespace haven::supervisor
