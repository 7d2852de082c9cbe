// src/demo: the demo backend (`haven demo-backend`) and the demo (`haven demo`).
//
// The demo backend is a small but real HTTP/1.1 server (keep-alive, pipelining, content-length
// and chunked bodies) used by the demo, the integration tests and the benchmarks. Its behaviour
// can be changed while it runs, to stage failures (docs/demo-backend.md):
//   GET /            "<name> request <n>"            GET /health   200, or 503 when failing
//   ANY /echo        JSON: method, path, headers, body length (any size, streamed)
//   GET /bytes?n=N[&chunked=1]  N bytes of body      GET /status/NNN   that status
//   GET /delay?ms=N  answer after N ms               GET /close    close without answering
//   GET /stats       JSON counters
//   ANY /_control?health=fail|ok&health_latency_ms=N&latency_ms=N&error_rate=F&close_rate=F&status=NNN
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace haven::demo {

struct BackendSettings {
    std::string name = "backend";
    int status = 200;         // status of GET /
    int latency_ms = 0;       // delay before every response
    double error_rate = 0;    // fraction of requests answered 500
    double close_rate = 0;    // fraction of requests answered by closing the connection
    bool fail_health = false; // GET /health answers 503
    int health_latency_ms = 0; // delay before GET /health answers (a slow or hanging check)
};

// Serves on `listen` ("127.0.0.1:0" picks a free port) until SIGTERM/SIGINT. Prints
// "listening on ADDR:PORT" on stdout once bound. Returns the exit code.
int run_backend(const std::string& listen, BackendSettings settings);

} // namespace haven::demo
