// Rewriting a received head for forwarding, without copying it.
//
// The outgoing head is a list of pieces: runs of the received bytes (field lines kept as they
// arrived), short lines haven adds, and constants. Lines to drop (hop-by-hop fields, RFC 9110
// §7.6.1; Expect, which haven answers itself) split the runs. The pieces go to the socket as one
// gather write, so a typical request or response head is forwarded with zero copies.
#pragma once

#include "http/parser.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace haven::http {

class HeadBuilder {
public:
    static constexpr std::size_t kMaxPieces = 24;

    HeadBuilder() { text_.reserve(512); }
    void clear() {
        count_ = 0;
        text_.clear();
    }
    std::size_t count() const { return count_; }
    std::string_view piece(std::size_t i) const { return pieces_[i]; }
    std::size_t size() const;
    // Concatenation of all pieces (tests, slow paths).
    std::string str() const;

    // Text haven generates goes in `text()`; append to it before calling add() with views of it,
    // then call freeze_text() so later appends cannot move it.
    std::string& text() { return text_; }
    void add(std::string_view piece);
    // Appends to the previous piece when contiguous with it.
    void add_run(const char* begin, const char* end);

private:
    void spill();
    std::array<std::string_view, kMaxPieces> pieces_{};
    std::size_t count_ = 0;
    std::string text_;
    std::string spill_; // used only when a head has more pieces than kMaxPieces
};

struct RequestRewrite {
    std::string_view client_ip;       // appended as a new X-Forwarded-For line
    std::string_view proto = "http";  // X-Forwarded-Proto, added when absent
    bool replace_proto = false;       // drop the client's X-Forwarded-Proto lines and send `proto` (TLS listeners)
    std::string_view request_id;      // X-Request-Id to add (empty: the client sent one)
    std::string_view default_host;    // Host for HTTP/1.0 requests that carry none
    bool upgrade_websocket = false;   // forward "Connection: Upgrade" + "Upgrade: websocket"
};

// A WebSocket handshake, request or 101 response (RFC 6455 §4): "Connection: upgrade" and an
// Upgrade field that lists "websocket" (case-insensitive). haven tunnels only this upgrade.
bool is_websocket_upgrade(const MessageHead& m);

// Builds the head sent to the upstream server for `req`, whose head bytes are `raw`.
void build_request_head(const RequestHead& req, std::string_view raw, const RequestRewrite& rw, HeadBuilder& out);

struct ResponseRewrite {
    enum class Conn : unsigned char { None, Close, KeepAlive, UpgradeWebSocket };
    Conn connection = Conn::None; // Connection field to add for the client
    bool drop_transfer_encoding = false; // the body is being de-chunked (HTTP/1.0 client)
    std::string_view extra_fields;       // whole field lines haven adds ("Name: value\r\n"...), e.g. RateLimit
    std::string_view sticky_fields;      // more of them: a sticky cookie's Set-Cookie (and Cache-Control)
};

// Builds the response head sent to the client.
void build_response_head(const ResponseHead& resp, std::string_view raw, const ResponseRewrite& rw, HeadBuilder& out);

} // namespace haven::http
