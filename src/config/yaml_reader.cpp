// Generic YAML walking for the config loader: positions, key paths, type errors and typed scalar
// readers. See yaml_reader.hpp.
#include "config/yaml_reader.hpp"

#include <netdb.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace haven::config {
namespace {

std::optional<std::string> resolve_with_getaddrinfo(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(host.c_str(), "1", &hints, &found);
    if (found != nullptr) freeaddrinfo(found);
    if (rc == 0) return std::nullopt;
    return std::string(rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc));
}

std::string range_text(rules::Range range) {
    return std::to_string(range.min) + " to " + std::to_string(range.max);
}

// The shortest text that reads back as `v`: 0.5 -> "0.5", 50 -> "50".
std::string number_text(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : "?";
}

std::string percent_text(PercentForm form, double max_fraction) {
    std::string max_percent = number_text(max_fraction * 100) + "%";
    if (form == PercentForm::Whole) {
        return "a whole percentage from 0% to " + max_percent + " (e.g. 50% or 50)";
    }
    return "a percentage from 0% to " + max_percent + " or a fraction from 0 to " +
           number_text(max_fraction) + " (e.g. 10% or 0.1)";
}

} // namespace

std::string kind_of(const YAML::Node& node) {
    switch (node.Type()) {
    case YAML::NodeType::Scalar: return rules::quote(node.Scalar());
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Null: return "an empty value";
    case YAML::NodeType::Undefined: break;
    }
    return "nothing";
}

std::string child_path(std::string_view parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    std::string out(parent);
    out += '.';
    out += key;
    return out;
}

std::string item_path(std::string_view parent, std::size_t index) {
    return std::string(parent) + "[" + std::to_string(index) + "]";
}

Reader::Reader(std::string file, HostResolver resolve)
    : file_(std::move(file)), resolve_(std::move(resolve)) {
    if (!resolve_) resolve_ = resolve_with_getaddrinfo;
}

SourceLoc Reader::loc(const YAML::Node& node) const {
    YAML::Mark m = node.Mark();
    if (m.is_null() || m.line < 0 || m.column < 0) return {};
    return {m.line + 1, m.column + 1};
}

SourceLoc Reader::loc(const Field& f) const {
    bool use_key = (!f.value.IsDefined() || f.value.IsNull()) && !f.key_mark.is_null();
    if (use_key) return {f.key_mark.line + 1, f.key_mark.column + 1};
    return loc(f.value);
}

void Reader::error(const YAML::Node& at, std::string_view path, std::string_view message) {
    error(Field{YAML::Mark::null_mark(), at, std::string(path)}, message);
}

void Reader::error(const Field& f, std::string_view message) {
    if (errors_.size() >= kMaxErrors) return;
    SourceLoc l = loc(f);
    std::string text = f.path.empty() ? "top level" : f.path;
    text += ": ";
    text += message;
    errors_.push_back(ConfigError{file_, l.line, l.column, std::move(text)});
}

bool Reader::count_item(const Field& f) {
    if (++items_ <= kMaxItems) return true;
    if (!stopped_) {
        error(f, "document too large: more than " + std::to_string(kMaxItems) +
                     " keys and list items (aliases count each time they are used)");
    }
    stopped_ = true;
    return false;
}

// Rules: a key is a scalar, appears once per mapping, and is one of `known`.
bool Reader::check_key(const Field& map, const YAML::Node& key,
                       std::unordered_map<std::string, YAML::Mark>& seen,
                       std::span<const std::string_view> known) {
    Field at{YAML::Mark::null_mark(), key, map.path};
    if (!key.IsScalar()) {
        error(at, "expected a key that is a string, got " + kind_of(key));
        return false;
    }
    const std::string& name = key.Scalar();
    auto [first, inserted] = seen.emplace(name, key.Mark());
    if (!inserted) {
        SourceLoc l{first->second.line + 1, first->second.column + 1};
        error(at, "duplicate key " + rules::quote(name) + " (first at " + rules::loc_text(l) + ")");
        return false;
    }
    for (auto k : known) {
        if (k == name) return true;
    }
    std::string message = "unknown key " + rules::quote(name);
    if (auto near = rules::closest(name, known)) {
        message += " (did you mean \"" + std::string(*near) + "\"?)";
    }
    error(at, message);
    return false;
}

std::optional<std::string_view> Reader::scalar(const Field& f, std::string_view what) {
    if (f.value.IsScalar()) return std::string_view(f.value.Scalar());
    error(f, "expected " + std::string(what) + ", got " + kind_of(f.value));
    return std::nullopt;
}

bool Reader::read_string(const Field& f, std::string& out) {
    auto text = scalar(f, "a string");
    if (!text) return false;
    out = std::string(*text);
    return true;
}

// Rules: decimal digits only (no sign, no 0x, no 1e3), within `range`.
bool Reader::read_uint(const Field& f, rules::Range range, std::uint32_t& out) {
    std::string what = "an integer from " + range_text(range);
    auto text = scalar(f, what);
    if (!text) return false;
    bool digits = !text->empty() && text->size() <= 10 &&
                  text->find_first_not_of("0123456789") == std::string_view::npos;
    std::uint64_t v = digits ? std::stoull(std::string(*text)) : 0;
    if (!digits || !range.contains(v)) {
        error(f, "expected " + what + ", got " + kind_of(f.value));
        return false;
    }
    out = static_cast<std::uint32_t>(v);
    return true;
}

bool Reader::read_size(const Field& f, rules::Range range, std::uint32_t& out) {
    std::string what = "a size from " + range_text(range) + " bytes (e.g. 32768 or 32KiB)";
    auto text = scalar(f, what);
    if (!text) return false;
    auto parsed = rules::parse_size_detail(*text);
    if (parsed.problem != rules::Problem::None || !range.contains(parsed.value)) {
        error(f, "expected " + what + ", got " + kind_of(f.value));
        return false;
    }
    out = static_cast<std::uint32_t>(parsed.value);
    return true;
}

bool Reader::read_duration(const Field& f, bool allow_zero, Duration& out) {
    auto text = scalar(f, "a duration (250ms, 2s, 1m, 1h)");
    if (!text) return false;
    auto parsed = rules::parse_duration_detail(*text);
    std::string shown = kind_of(f.value);
    switch (parsed.problem) {
    case rules::Problem::None: break;
    case rules::Problem::TooLarge:
        error(f, "duration " + shown + " is too large (at most 8760h)");
        return false;
    case rules::Problem::SubMillisecond:
        error(f, "duration " + shown + " is not a whole number of milliseconds");
        return false;
    case rules::Problem::Syntax:
        error(f, "invalid duration " + shown + " (use a unit: 250ms, 2s, 1m, 1h)");
        return false;
    }
    if (parsed.value.count() == 0 && !allow_zero) {
        error(f, "duration must be greater than 0, got " + shown);
        return false;
    }
    out = parsed.value;
    return true;
}

bool Reader::read_bool(const Field& f, bool& out) {
    auto text = scalar(f, "true or false");
    if (!text) return false;
    if (*text != "true" && *text != "false") {
        error(f, "expected true or false, got " + kind_of(f.value));
        return false;
    }
    out = *text == "true";
    return true;
}

bool Reader::read_enum(const Field& f, std::span<const EnumValue> values, int& out) {
    std::string allowed;
    for (const auto& v : values) allowed += (allowed.empty() ? "" : ", ") + std::string(v.name);
    auto text = scalar(f, "one of " + allowed);
    if (!text) return false;
    for (const auto& v : values) {
        if (*text == v.name) {
            out = v.value;
            return true;
        }
    }
    error(f, "unknown value " + kind_of(f.value) + " (expected one of: " + allowed + ")");
    return false;
}

// Rules: "N%" is N percent; a bare number is a fraction (PercentForm::Fraction) or a number of
// percent (PercentForm::Whole, which also wants a whole number); at most max_fraction.
bool Reader::read_percent(const Field& f, PercentForm form, double max_fraction, double& out) {
    std::string what = percent_text(form, max_fraction);
    auto text = scalar(f, what);
    if (!text) return false;
    auto parsed = rules::parse_percent(*text);
    bool ok = parsed.has_value() && (form == PercentForm::Fraction || parsed->whole);
    double fraction = 0;
    if (ok) {
        bool percent = parsed->percent_sign || form == PercentForm::Whole;
        fraction = percent ? parsed->number / 100 : parsed->number;
        ok = fraction <= max_fraction;
    }
    if (!ok) {
        error(f, "expected " + what + ", got " + kind_of(f.value));
        return false;
    }
    out = fraction;
    return true;
}

bool Reader::read_endpoint(const Field& f, bool allow_port_zero, Endpoint& out) {
    std::string_view what = allow_port_zero ? "host:port (port 0 to 65535)" : "host:port";
    auto text = scalar(f, what);
    if (!text) return false;
    auto ep = parse_endpoint(*text);
    if (!ep || (ep->port == 0 && !allow_port_zero)) {
        std::string port_rule = allow_port_zero ? "0 to 65535" : "1 to 65535";
        error(f, "invalid address " + kind_of(f.value) +
                     " (expected HOST:PORT with an IPv4 address, [IPv6] or host name, and a port "
                     "from " + port_rule + ")");
        // Keep the text so validate() does not also call the key missing.
        out.text = std::string(*text);
        return false;
    }
    out = std::move(*ep);
    if (rules::is_ipv4_literal(out.host) || rules::is_ipv6_literal(out.host)) return true;
    if (auto failure = resolve(out.host)) {
        error(f, "cannot resolve host " + rules::quote(out.host) + ": " + *failure);
        return false;
    }
    return true;
}

std::optional<std::string> Reader::resolve(const std::string& host) {
    auto it = resolved_.find(host);
    if (it != resolved_.end()) return it->second;
    auto result = resolve_(host);
    resolved_.emplace(host, result);
    return result;
}

std::optional<std::string> Reader::read_file(const Field& f, const std::string& written, std::uint64_t max_bytes) {
    namespace fs = std::filesystem;
    fs::path path(written);
    if (path.is_relative()) path = fs::path(file_).parent_path() / path;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        error(f, "cannot read " + rules::quote(path.string()) + ": " + std::strerror(errno));
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) > max_bytes) {
        error(f, rules::quote(path.string()) + " is not a regular file of at most " + std::to_string(max_bytes) +
                     " bytes");
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in) {
        error(f, "cannot read " + rules::quote(path.string()));
        return std::nullopt;
    }
    return ss.str();
}

} // namespace haven::config
