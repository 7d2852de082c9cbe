// Responses haven writes itself (errors, 100 Continue): short, complete, with a plain-text body
// that says what happened, e.g. "502 Bad Gateway: upstream connect failure".
#pragma once

#include <cstddef>
#include <string_view>

namespace haven::http {

std::string_view reason_phrase(int status);

struct LocalReplyOptions {
    bool close = false;            // add "Connection: close"
    bool head_request = false;     // HEAD: no body, Content-Length of the body it would have
    std::string_view detail;       // appended to the body after the status line
    std::string_view date_line;    // "Date: ...\r\n" (may be empty)
    std::string_view extra_fields; // more field lines, each ending in CRLF (e.g. Retry-After)
};

// Formats the whole response into buf (truncating the detail if needed); returns its view.
std::string_view format_local_reply(char* buf, std::size_t cap, int status, const LocalReplyOptions& o);

inline constexpr std::string_view kContinue100 = "HTTP/1.1 100 Continue\r\n\r\n";

} // namespace haven::http
