// `haven demo`: starts demo backends as child processes on free loopback ports, then the proxy
// balancing over them, prints what to try, and stops every child on Ctrl-C / SIGTERM.
#pragma once

#include <string>

namespace haven::demo {

// `admin`: the admin listener's address (dashboard, API, metrics).
int run_demo(const std::string& listen, int backends, const std::string& admin);

} // namespace haven::demo
