// The exec probe: runs a command (in its own process group, output discarded) and passes when it
// exits 0 within the timeout. At the timeout the whole group is killed (SIGKILL), so a probe
// that hangs never piles up processes.
#pragma once

#include "core/scheduler.hpp"
#include "supervisor/process.hpp"
#include "upstream/health/probe.hpp"

namespace haven::supervisor {

std::unique_ptr<upstream::Probe> make_exec_probe(Launcher& launcher, Scheduler& scheduler, SpawnSpec spec,
                                                 Duration timeout);

} // namespace haven::supervisor
