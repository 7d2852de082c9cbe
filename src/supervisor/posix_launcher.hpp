// The real Launcher: fork and exec on Linux. Each child leads its own process group (so that a
// stop reaches everything it started), gets PR_SET_PDEATHSIG=SIGKILL (so that it dies with haven
// even when haven is killed with SIGKILL; the signal follows the forking thread, and the control
// thread lives as long as haven), starts with default signal dispositions and an empty signal
// mask, inherits no descriptor but stdin (/dev/null), stdout and stderr (pipes read into haven's
// log, or /dev/null), and exec failures are reported back through a close-on-exec pipe so that a
// command that cannot run is an error of spawn, not a mysterious exit 127. Exits are watched with
// a pidfd on the control thread's event loop: no SIGCHLD handler, and other children of the
// process are never reaped by mistake.
#pragma once

#include "core/clock.hpp"
#include "supervisor/process.hpp"

#include <asio/io_context.hpp>

namespace haven::supervisor {

std::unique_ptr<Launcher> make_posix_launcher(asio::io_context& io, const Clock& clock);

} // namespace haven::supervisor
