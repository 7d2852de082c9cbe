// Text to one yaml-cpp document, with every yaml-cpp failure turned into a ConfigError.
//
// Why not YAML::LoadAll: in yaml-cpp 0.7 a token that cannot start a node at the top level (a
// ',' after a top-level list, or as the first character) is never consumed, so LoadAll keeps
// producing empty documents forever and runs out of memory (found by fuzz/config_loader_fuzz).
// YAML::Load parses only the first document, and a second Parser pass asks for at most one more
// document to tell whether anything follows it.
#include "config/yaml_reader.hpp"

#include <yaml-cpp/eventhandler.h>

#include <sstream>

namespace haven::config {
namespace {

// Records where the next document starts; ignores its content.
class DocumentStart final : public YAML::EventHandler {
public:
    YAML::Mark mark = YAML::Mark::null_mark();

    void OnDocumentStart(const YAML::Mark& m) override { mark = m; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

ConfigError error_at(const std::string& file, const YAML::Mark& m, std::string message) {
    bool known = !m.is_null() && m.line >= 0 && m.column >= 0;
    return ConfigError{file, known ? m.line + 1 : 0, known ? m.column + 1 : 0, std::move(message)};
}

// The error for whatever follows the first document, if anything does.
std::optional<ConfigError> trailing_content(const std::string& text, const std::string& file) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStart first;
    if (!parser.HandleNextDocument(first)) return std::nullopt;
    DocumentStart second;
    if (!parser.HandleNextDocument(second)) return std::nullopt;
    auto pos = second.mark.pos;
    bool marker = pos >= 0 && text.compare(static_cast<std::size_t>(pos), 3, "---") == 0;
    return error_at(file, second.mark,
                    marker ? "only one YAML document is allowed"
                           : "YAML syntax error: unexpected content after the end of the document");
}

} // namespace

std::optional<ConfigError> parse_yaml(std::string_view yaml, const std::string& file,
                                      YAML::Node& doc) {
    try {
        std::string text(yaml);
        std::istringstream in(text);
        doc = YAML::Load(in);
        return trailing_content(text, file);
    } catch (const YAML::DeepRecursion& e) {
        return error_at(file, e.mark,
                        "YAML nested too deeply (" + std::to_string(e.depth()) + " levels)");
    } catch (const YAML::Exception& e) {
        return error_at(file, e.mark, "YAML syntax error: " + e.msg);
    } catch (const std::exception& e) {
        return ConfigError{file, 0, 0, std::string("cannot parse YAML: ") + e.what()};
    } catch (...) {
        return ConfigError{file, 0, 0, "cannot parse YAML: unknown error"};
    }
}

} // namespace haven::config
