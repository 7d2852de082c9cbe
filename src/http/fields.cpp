#include "http/fields.hpp"

namespace haven::http {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

} // namespace

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string_view find_field(const RequestHead& req, std::string_view name) {
    for (const auto& h : req.headers) {
        if (iequals(h.name, name)) return h.value;
    }
    return {};
}

bool cookie_in(std::string_view field_value, std::string_view name, std::string_view& value) {
    std::string_view rest = field_value;
    while (!rest.empty()) {
        const auto semi = rest.find(';');
        std::string_view pair = trim(rest.substr(0, semi));
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
            value = trim(pair.substr(eq + 1));
            return true;
        }
    }
    return false;
}

std::string_view find_cookie(const RequestHead& req, std::string_view name) {
    std::string_view value;
    for (const auto& h : req.headers) {
        if (h.id == HeaderId::Cookie && cookie_in(h.value, name, value)) return value;
    }
    return {};
}

} // namespace haven::http
