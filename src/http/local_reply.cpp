#include "http/local_reply.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace haven::http {

std::string_view reason_phrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

std::string_view format_local_reply(char* buf, std::size_t cap, int status, const LocalReplyOptions& o) {
    const std::string_view reason = reason_phrase(status);
    char body[256];
    auto b = fmt::format_to_n(body, sizeof body - 1, "{} {}{}{}", status, reason, o.detail.empty() ? "" : ": ", o.detail);
    std::size_t body_len = std::min(b.size, sizeof body - 2);
    body[body_len++] = '\n';
    auto r = fmt::format_to_n(buf, cap,
                              "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}{}{}\r\n{}",
                              status, reason, body_len, o.close ? "Connection: close\r\n" : "", o.date_line,
                              o.extra_fields,
                              o.head_request ? std::string_view() : std::string_view(body, body_len));
    return {buf, std::min(r.size, cap)};
}

} // namespace haven::http
