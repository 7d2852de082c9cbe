// `haven demo`.
#include "app/commands.hpp"
#include "demo/demo.hpp"

namespace haven::app {

int run_demo(const DemoOptions& o, const char*) { return demo::run_demo(o.listen, o.backends, o.admin); }

} // namespace haven::app
