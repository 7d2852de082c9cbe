// The production ProbeFactory: http and tcp probes are haven's health-check probes
// (upstream/health/) aimed at the replica's host and port; exec probes run a command
// (exec_probe.hpp) in the replica's environment and working directory, as its user.
#pragma once

#include "supervisor/replica_env.hpp"

#include <asio/io_context.hpp>

namespace haven::supervisor {

ProbeFactory make_probe_factory(asio::io_context& io, Scheduler& scheduler, Launcher& launcher,
                                std::vector<std::string> base_env);

} // namespace haven::supervisor
