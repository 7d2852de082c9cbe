// `haven ctl`: the admin API from the command line — one HTTP request per command, the answer
// as a readable table, or as the API's JSON with --json.
#pragma once

#include <string>
#include <vector>

namespace haven::admin {

struct CtlOptions {
    std::string address;   // host:port of the admin listener
    std::string token;     // bearer token ("" = none)
    bool json = false;     // print the API's JSON as is
    double timeout_s = 10; // per request
};

struct CtlResult {
    int exit_code = 0;  // 0 ok; 1 the API refused or could not be reached; 2 usage
    std::string out;    // for stdout
    std::string err;    // for stderr
};

// command: status | pools | pool NAME | drain|enable|maint POOL SERVER | weight POOL SERVER N |
//          events [SINCE] | reload | config | health [deep] | ready | slo
CtlResult run_ctl(const CtlOptions& o, const std::vector<std::string>& command);

// A blocking HTTP/1.1 request to host:port (loopback admin use). Returns false with `error` set
// when the server cannot be reached or answers something that is not HTTP.
struct HttpReply {
    int status = 0;
    std::string body;
};
bool http_call(const std::string& address, const std::string& method, const std::string& target,
               const std::string& token, const std::string& body, double timeout_s, HttpReply& reply,
               std::string& error);

} // namespace haven::admin
