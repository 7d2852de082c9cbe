// What the JWT check costs a request (docs/jwt.md): a full verification per algorithm (what a
// token seen for the first time costs: decoding, JSON, the signature, issuer and audience), and the
// route's whole check as the policy stage runs it (find the bearer token, the cache, the times,
// forward a claim as a header) with a cached token and with a new token every time (cache off).
// Tokens are the python3-jwt fixtures (tests/unit/policy/jwt_fixtures.hpp), checked at their kNow.
//
//   ninja -C build/jwt jwt_bench && build/jwt/bench/jwt_bench --benchmark_filter='Verify|Check/[01]$'
//   instructions: valgrind --tool=callgrind --callgrind-out-file=/dev/null build/jwt/bench/jwt_bench
//                 --benchmark_filter='Check/1/iterations:1000$'   (then 11000; the same for Check/0 with 100, 1100)
#include "policy/jwt/authenticator.hpp"
#include "../tests/unit/policy/jwt_fixtures.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

using namespace haven;
using namespace haven::policy::jwt;
namespace fx = fixtures;

config::JwtKey key(std::string_view material, bool secret, std::string kid = "") {
    config::JwtKey k;
    (secret ? k.secret_file : k.file) = "bench";
    k.material = std::string(material);
    k.kid = std::move(kid);
    return k;
}

config::JwtPolicy policy(std::uint32_t cache_size) {
    config::JwtPolicy p;
    p.issuers = {std::string(fx::kIssuer)};
    p.audiences = {std::string(fx::kAudience)};
    p.algorithms = {"HS256", "RS256", "PS256", "ES256", "ES384"};
    p.keys = {key(fx::kSecret, true), key(fx::kRsaPublicPem, false, "rsa-1"), key(fx::kEc256PublicPem, false, "ec-1"),
              key(fx::kEc384PublicPem, false, "ec-384")};
    p.forward_claims = {{"sub", "X-User"}};
    p.cache_size = cache_size;
    return p;
}

std::string_view token_of(std::int64_t alg) {
    switch (alg) {
    case 0: return fx::kHs256;
    case 1: return fx::kRs256;
    case 2: return fx::kPs256;
    case 3: return fx::kEs256;
    default: return fx::kEs384;
    }
}

// The signature and claims checks of one token, no cache: the cost of a token seen for the first time.
void Verify(benchmark::State& state) {
    const auto auth = make_authenticator(policy(0), {}, 1);
    const std::string_view token = token_of(state.range(0));
    Verified out;
    for (auto _ : state) {
        const Result r = auth->verifier().verify_at(token, fx::kNow, out);
        if (r != Result::Valid) state.SkipWithError("token not valid");
        benchmark::DoNotOptimize(r);
    }
    static constexpr const char* kNames[] = {"HS256", "RS256 (2048)", "PS256 (2048)", "ES256", "ES384"};
    state.SetLabel(kNames[state.range(0)]);
}
BENCHMARK(Verify)->DenseRange(0, 4);

// The policy stage's call: a request with `Authorization: Bearer <RS256 token>` and a few other
// fields; `cache_size` 4096 (hit every time after the first) or 0 (a full verification each time).
void Check(benchmark::State& state) {
    const bool cached = state.range(0) != 0;
    const auto auth = make_authenticator(policy(cached ? 4096 : 0), {}, 1);
    const std::string bearer = "Bearer " + std::string(fx::kRs256);
    std::vector<http::Header> fields(4);
    fields[0].name = "Host", fields[0].value = "api.example";
    fields[1].name = "User-Agent", fields[1].value = "bench/1.0";
    fields[2].name = "Accept", fields[2].value = "*/*";
    fields[3].name = "Authorization", fields[3].value = bearer;
    http::RequestHead req;
    RequestScratch scratch;
    for (auto _ : state) {
        req.headers = std::span<http::Header>(fields);
        const Decision d = auth->check(req, scratch, fx::kNow, 0);
        if (!d.pass) state.SkipWithError("refused");
        benchmark::DoNotOptimize(req.headers.data());
    }
    state.SetLabel(cached ? "RS256, cached token" : "RS256, new token (cache off)");
}
BENCHMARK(Check)->Arg(1)->Arg(0);
// Fixed iteration counts, for instruction counts under callgrind (no hardware counters needed):
// instructions per check = (Ir of the larger run - Ir of the smaller) / the difference in iterations.
BENCHMARK(Check)->Arg(1)->Iterations(1000);
BENCHMARK(Check)->Arg(1)->Iterations(11000);
BENCHMARK(Check)->Arg(0)->Iterations(100);
BENCHMARK(Check)->Arg(0)->Iterations(1100);

} // namespace
