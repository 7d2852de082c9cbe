// src/runtime: the composition root. It builds haven's subsystems from the configuration, wires
// them together (the control plane's pool states feed the data plane's workers; the admin API
// shows every subsystem's Section), and runs start, reload and shutdown across all of them in a
// defined order (runtime.hpp). No request-path logic lives here.
//
// Subsystem (this file) is what the runtime drives: a part of haven it starts, reloads, drains
// and stops, and whose admin::Section the admin side shows. Adding a subsystem is a folder of its
// own plus a Subsystem here and a few lines in runtime.cpp.
#pragma once

#include "admin/section.hpp"
#include "config/schema.hpp"

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

    // Start in registration order; shutdown in reverse: begin_drain (take no new work) for all,
    // then stop (release everything) for all.
    virtual void start() {}
    virtual void begin_drain() {}
    virtual void stop() {}
};

} // namespace haven::runtime
