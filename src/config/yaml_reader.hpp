// Internal to src/config: walks yaml-cpp nodes with a key path and turns every problem into a
// ConfigError at the node's 1-based line and column. The schema-specific walk (yaml_loader.cpp)
// says only which keys exist and what type each has; this class owns the generic rules: unknown
// and duplicate keys, wrong types, and the typed scalar readers. A reader that fails leaves the
// destination untouched, so defaults stay in place and validate() does not report it again.
#pragma once

#include "config/value_rules.hpp"
#include "config/yaml_loader.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace haven::config {

// One value and how to name it. `key_mark` is where its mapping key is (null for a list item):
// yaml-cpp puts an empty value's mark at the next token, so errors on one point at the key.
struct Field {
    YAML::Mark key_mark;
    YAML::Node value;
    std::string path;
};

struct EnumValue {
    std::string_view name;
    int value;
};

// What a number written without '%' means to read_percent ("N%" is always N percent).
enum class PercentForm {
    Fraction, // a fraction of 1: 0.1 is 10% (jitter, max_retry_ratio)
    Whole,    // a whole number of percent: 50 is 50%; "12.5%" is refused (max_ejected_percent)
};

class Reader {
public:
    // Beyond these the document is hostile or broken; stop walking instead of growing output.
    static constexpr std::size_t kMaxItems = 100'000; // list items and keys, aliases expanded
    static constexpr std::size_t kMaxErrors = 1000;

    Reader(std::string file, HostResolver resolve);

    const std::string& file() const { return file_; }
    std::vector<ConfigError> take_errors() { return std::move(errors_); }

    void error(const YAML::Node& at, std::string_view path, std::string_view message);
    void error(const Field& f, std::string_view message);
    SourceLoc loc(const YAML::Node& node) const;
    SourceLoc loc(const Field& f) const;

    // Reports a node that is not a mapping/list and returns false. Keys: reports non-scalar,
    // duplicate and unknown ones (with a "did you mean") and calls visit(key, Field) once per
    // known key. Items: calls visit(index, Field).
    template <class Visit>
    bool each_key(const Field& map, std::span<const std::string_view> known, Visit&& visit);
    template <class Visit>
    bool each_item(const Field& list, Visit&& visit);

    bool read_string(const Field& f, std::string& out);
    bool read_uint(const Field& f, rules::Range range, std::uint32_t& out);
    bool read_size(const Field& f, rules::Range range, std::uint32_t& out);
    bool read_duration(const Field& f, bool allow_zero, Duration& out);
    bool read_bool(const Field& f, bool& out);
    bool read_enum(const Field& f, std::span<const EnumValue> values, int& out);
    // The same, into an enum whose values the table lists.
    template <class E>
        requires std::is_enum_v<E>
    bool read_enum(const Field& f, std::span<const EnumValue> values, E& out) {
        int v = 0;
        if (!read_enum(f, values, v)) return false;
        out = static_cast<E>(v);
        return true;
    }
    // "20%", "12.5%" or a bare number (see PercentForm) -> a fraction from 0 to max_fraction.
    bool read_percent(const Field& f, PercentForm form, double max_fraction, double& out);
    // Parses host:port and resolves host names. On a resolution failure `out` is still filled.
    bool read_endpoint(const Field& f, bool allow_port_zero, Endpoint& out);

    // The bytes of the file `written` names (relative to the config file's folder), or nullopt
    // after reporting why not at `f`. Rules: a regular file (a FIFO would block the load),
    // readable, at most max_bytes.
    std::optional<std::string> read_file(const Field& f, const std::string& written, std::uint64_t max_bytes);

    // The scalar text, or nullopt after reporting "expected <what>, got <kind>".
    std::optional<std::string_view> scalar(const Field& f, std::string_view what);

private:
    bool count_item(const Field& f);
    bool check_key(const Field& map, const YAML::Node& key,
                   std::unordered_map<std::string, YAML::Mark>& seen,
                   std::span<const std::string_view> known);
    std::optional<std::string> resolve(const std::string& host);

    std::string file_;
    HostResolver resolve_;
    std::unordered_map<std::string, std::optional<std::string>> resolved_;
    std::vector<ConfigError> errors_;
    std::size_t items_ = 0;
    bool stopped_ = false;
};

// Parses the text as exactly one YAML document (yaml_document.cpp); the error if it is not.
std::optional<ConfigError> parse_yaml(std::string_view yaml, const std::string& file,
                                      YAML::Node& doc);

std::string kind_of(const YAML::Node& node);
std::string child_path(std::string_view parent, std::string_view key);
std::string item_path(std::string_view parent, std::size_t index);

template <class Visit>
bool Reader::each_key(const Field& map, std::span<const std::string_view> known, Visit&& visit) {
    if (!map.value.IsMap()) {
        error(map, "expected a mapping, got " + kind_of(map.value));
        return false;
    }
    std::unordered_map<std::string, YAML::Mark> seen;
    for (auto it = map.value.begin(); it != map.value.end() && !stopped_; ++it) {
        Field field{it->first.Mark(), it->second, {}};
        if (!count_item(field) || !check_key(map, it->first, seen, known)) continue;
        field.path = child_path(map.path, it->first.Scalar());
        visit(std::string_view(it->first.Scalar()), field);
    }
    return true;
}

template <class Visit>
bool Reader::each_item(const Field& list, Visit&& visit) {
    if (!list.value.IsSequence()) {
        error(list, "expected a list, got " + kind_of(list.value));
        return false;
    }
    std::size_t index = 0;
    for (auto it = list.value.begin(); it != list.value.end() && !stopped_; ++it, ++index) {
        Field item{YAML::Mark::null_mark(), *it, item_path(list.path, index)};
        if (!count_item(item)) break;
        visit(index, item);
    }
    return true;
}

} // namespace haven::config
