// `haven ctl`: finds the admin listener and its token, then runs the command.
#include "admin/ctl.hpp"
#include "app/commands.hpp"
#include "config/yaml_loader.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace haven::app {
namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}

} // namespace

// Where to connect: --admin, else the config's admin.listen, else 127.0.0.1:9000. The token:
// --token-file, else $HAVEN_ADMIN_TOKEN, else the config's admin.token_file.
int run_ctl(const CtlOptions& o) {
    admin::CtlOptions c;
    c.json = o.json;
    c.address = "127.0.0.1:9000";
    if (!o.config.empty()) {
        auto loaded = config::load_file(o.config);
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        if (!loaded.config) return 1;
        if (!loaded.config->admin) {
            std::fprintf(stderr, "haven ctl: %s has no admin listener\n", o.config.c_str());
            return 1;
        }
        c.address = loaded.config->admin->listen.text;
        c.token = loaded.config->admin->token;
    }
    if (!o.admin.empty()) c.address = o.admin;
    if (const char* env = std::getenv("HAVEN_ADMIN_TOKEN"); env && *env) c.token = env;
    if (!o.token_file.empty()) {
        std::ifstream in(o.token_file);
        if (!in) {
            std::fprintf(stderr, "haven ctl: cannot read token file %s\n", o.token_file.c_str());
            return 1;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        c.token = trim(ss.str());
    }
    const auto r = admin::run_ctl(c, o.command);
    std::fputs(r.out.c_str(), stdout);
    std::fputs(r.err.c_str(), stderr);
    return r.exit_code;
}

} // namespace haven::app
