// src/runtime: the composition root. It builds haven's subsystems from the configuration, wires
// them together (the control plane's pool states feed the data plane's workers; the admin API
// shows every subsystem's Section), and runs start, reload and shutdown across all of them in a
// defined order (runtime.hpp). No request-path logic lives here.
//
// Subsystem (this file) is what the runtime drives: a part of haven it starts, reloads, drains
// and stops, and whose admin::Section the admin side shows. Adding a subsystem is a folder of its
// own, a Subsystem here, and two lines in Runtime::Runtime (construct it, register it): the
// runtime drives every registered subsystem through the same steps, and the admin side shows it.
#pragma once

#include "admin/section.hpp"
#include "config/schema.hpp"
#include "core/clock.hpp"

#include <memory>
#include <string>
#include <vector>

namespace haven::runtime {

class Subsystem : public admin::Section {
public:
    // Reload, step 1: check `next` and prepare what it needs (bind, resolve) without changing
    // what serves; add every problem to `errors`. Every subsystem is asked, so that a refused
    // reload lists every reason.
    virtual void prepare(const config::Config& next, std::vector<std::string>& errors) {
        (void)next;
        (void)errors;
    }
    // Step 2, when every subsystem prepared without an error: switch to `next`. In registration
    // order, so a subsystem may read what an earlier one committed.
    virtual void commit(const std::shared_ptr<const config::Config>& next) { (void)next; }
    // Or, when any subsystem had an error: undo what prepare did.
    virtual void abort() {}

    // Start, in three steps, each across every subsystem in registration order:
    //   1. start(): begin the work that needs no traffic (health checks, DNS, replicas);
    //   2. warm-up: the runtime runs the control loop while any subsystem is warming() (its first
    //      round of checks, replicas starting), for at most the longest warm_up_limit(); then
    //      warmed_up(took, done) lets each say what it reached;
    //   3. serve(): take traffic (workers accept); then serving() once all of them serve.
    virtual void start() {}
    virtual bool warming() const { return false; }
    virtual Duration warm_up_limit() const { return Duration::zero(); }
    virtual void warmed_up(Duration took, bool done) {
        (void)took;
        (void)done;
    }
    virtual void serve() {}
    virtual void serving() {}
    // Around every reload (accepted or refused), before prepare() and after commit()/abort().
    virtual void reload_begins() {}
    virtual void reload_ends() {}
    // Shutdown, in reverse registration order: begin_drain (take no new work) for all, then stop
    // (release everything) for all.
    virtual void begin_drain() {}
    virtual void stop() {}
};

} // namespace haven::runtime
