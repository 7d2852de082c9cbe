// Runs a libFuzzer target's LLVMFuzzerTestOneInput over every file of its seed corpus, without
// libFuzzer: the corpus replays as an ordinary test under ctest (also in the asan build), so a
// crash once found and added to fuzz/corpus/<target>/ stays fixed.
//   <target>_corpus_replay DIR...
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    std::size_t inputs = 0;
    for (int i = 1; i < argc; ++i) {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(argv[i])) {
            if (e.is_regular_file()) files.push_back(e.path());
        }
        if (files.empty()) {
            std::fprintf(stderr, "no inputs in %s\n", argv[i]);
            return 1;
        }
        for (const auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            // Each input in an exact-size heap copy, so the sanitizers see a read past its end.
            std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
            LLVMFuzzerTestOneInput(copy.data(), copy.size());
            ++inputs;
        }
    }
    std::printf("replayed %zu inputs\n", inputs);
    return 0;
}
