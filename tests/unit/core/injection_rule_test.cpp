// The design rule "time and randomness are injected": steady_clock::now, system_clock::now,
// random_device and sleep_for appear only in src/core/ (production code) — everything else takes a
// Clock, Scheduler or Random so it can be tested without sleeping.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;

TEST(DesignRules, ClockRandomAndSleepOnlyInCore) {
    const fs::path src = fs::path(HAVEN_SOURCE_DIR) / "src";
    ASSERT_TRUE(fs::exists(src));
    const std::regex banned(R"(steady_clock::now|system_clock::now|random_device|sleep_for)");
    std::vector<std::string> offenders;
    for (const auto& e : fs::recursive_directory_iterator(src)) {
        if (!e.is_regular_file()) continue;
        const auto rel = fs::relative(e.path(), src).string();
        if (rel.rfind("core/", 0) == 0) continue;
        std::ifstream in(e.path());
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
            if (std::regex_search(line, banned)) offenders.push_back(rel + ":" + std::to_string(n) + ": " + line);
        }
    }
    std::ostringstream msg;
    for (const auto& o : offenders) msg << o << "\n";
    EXPECT_TRUE(offenders.empty()) << msg.str();
}

TEST(DesignRules, UnitTestsDoNotSleep) {
    const fs::path dir = fs::path(HAVEN_SOURCE_DIR) / "tests" / "unit";
    std::vector<std::string> offenders;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file() || e.path().filename() == "injection_rule_test.cpp") continue;
        std::ifstream in(e.path());
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
            if (line.find("sleep_for") != std::string::npos || line.find("usleep(") != std::string::npos) {
                offenders.push_back(e.path().filename().string() + ":" + std::to_string(n));
            }
        }
    }
    EXPECT_TRUE(offenders.empty());
}
