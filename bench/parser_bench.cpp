// Cost of parsing one head, whole, as it arrives in the common case (one read holds it all).
// Three shapes: a browser GET (~500 bytes, 10 fields), the minimal request wrk sends, and the
// response head nginx sends for a static file. Figures go to bench/RESULTS.md.
#include "http/chunked.hpp"
#include "http/parser.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <string>
#include <string_view>

namespace {

using namespace haven::http;

constexpr std::string_view kBrowserGet =
    "GET /catalog/products/view?id=48213&ref=homepage_banner&utm_source=newsletter HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.9,de;q=0.7\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Cookie: session_id=9f8e7d6c5b4a39281706f5e4d3c2b1a0; cart=17; theme=dark\r\n"
    "Referer: https://shop.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "\r\n";

constexpr std::string_view kWrkGet = "GET / HTTP/1.1\r\nHost: 127.0.0.1:18093\r\n\r\n";

constexpr std::string_view kNginxResponse =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Mon, 27 Nov 2023 10:15:32 GMT\r\n"
    "Content-Type: text/html\r\n"
    "Content-Length: 615\r\n"
    "Last-Modified: Tue, 11 Apr 2023 01:45:34 GMT\r\n"
    "Connection: keep-alive\r\n"
    "ETag: \"6434bbbe-267\"\r\n"
    "Accept-Ranges: bytes\r\n"
    "\r\n";

void check(bool ok, benchmark::State& state) {
    if (!ok) state.SkipWithError("parse failed");
}

void parse_request(benchmark::State& state, std::string_view msg) {
    std::array<Header, 64> storage;
    RequestParser parser(ParserLimits{}, storage);
    RequestHead head;
    for (auto _ : state) {
        parser.reset();
        benchmark::DoNotOptimize(msg.data());
        const ParseStatus st = parser.parse(msg, head);
        benchmark::DoNotOptimize(st);
        benchmark::DoNotOptimize(head);
    }
    check(parser.parse(msg, head) == ParseStatus::Complete, state);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * msg.size()));
    state.counters["bytes"] = static_cast<double>(msg.size());
}

void BM_BrowserGet(benchmark::State& state) { parse_request(state, kBrowserGet); }
void BM_WrkGet(benchmark::State& state) { parse_request(state, kWrkGet); }

void BM_NginxResponse(benchmark::State& state) {
    std::array<Header, 64> storage;
    ResponseParser parser(ParserLimits{}, storage);
    ResponseHead head;
    for (auto _ : state) {
        parser.reset();
        benchmark::DoNotOptimize(kNginxResponse.data());
        const ParseStatus st = parser.parse(kNginxResponse, head, Method::Get);
        benchmark::DoNotOptimize(st);
        benchmark::DoNotOptimize(head);
    }
    parser.reset();
    check(parser.parse(kNginxResponse, head, Method::Get) == ParseStatus::Complete, state);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kNginxResponse.size()));
    state.counters["bytes"] = static_cast<double>(kNginxResponse.size());
}

// The browser request arriving in two reads, cut in the middle of the Cookie line: the price of
// the incremental path.
void BM_BrowserGetInTwoReads(benchmark::State& state) {
    std::array<Header, 64> storage;
    RequestParser parser(ParserLimits{}, storage);
    RequestHead head;
    const std::string_view first = kBrowserGet.substr(0, kBrowserGet.find("cart="));
    for (auto _ : state) {
        parser.reset();
        benchmark::DoNotOptimize(parser.parse(first, head));
        benchmark::DoNotOptimize(parser.parse(kBrowserGet, head));
        benchmark::DoNotOptimize(head);
    }
}

// Validating a 64 KiB chunked body made of 4 KiB chunks (the proxy forwards it verbatim).
void BM_ChunkedBody(benchmark::State& state) {
    std::string body;
    const std::string chunk(4096, 'x');
    for (int i = 0; i < 16; ++i) body += "1000\r\n" + chunk + "\r\n";
    body += "0\r\n\r\n";
    for (auto _ : state) {
        ChunkedDecoder d;
        const auto r = d.feed(body);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

BENCHMARK(BM_BrowserGet);
BENCHMARK(BM_WrkGet);
BENCHMARK(BM_NginxResponse);
BENCHMARK(BM_BrowserGetInTwoReads);
BENCHMARK(BM_ChunkedBody);

} // namespace
