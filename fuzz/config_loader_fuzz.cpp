// libFuzzer target: arbitrary bytes into the config loader. It must return errors, never crash,
// hang or throw. Host names resolve through a fake so the fuzzer never waits on DNS.
#include "config/yaml_loader.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

// Bigger inputs only make yaml-cpp slower without reaching new code in the loader.
constexpr std::size_t kMaxInput = 64 * 1024;

const haven::config::LoadOptions& options() {
    static const haven::config::LoadOptions o = [] {
        haven::config::LoadOptions opts;
        opts.resolve_host = [](const std::string& host) -> std::optional<std::string> {
            if (host.size() % 2 == 0) return std::nullopt; // both outcomes get exercised
            return "fake resolver: not found";
        };
        return opts;
    }();
    return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > kMaxInput) return 0;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto result = haven::config::load_string(text, "fuzz.yaml", options());
    // The loader's contract: a config exactly when there are no errors, and every error
    // formats. Breaking it is a bug worth a crash report.
    if (result.config.has_value() != result.errors.empty()) std::abort();
    for (const auto& e : result.errors) {
        if (e.to_string().empty() || e.line < 0 || e.column < 0) std::abort();
    }
    return 0;
}
