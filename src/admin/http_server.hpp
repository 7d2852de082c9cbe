// A small HTTP/1.1 server for the admin listener: keep-alive, bodies up to 1 MiB (Content-Length
// only), a timeout per connection. It runs on the control thread's io_context — never on a worker
// — and hands each request to one handler function. Requests are parsed with haven's own parser,
// so the admin port is exactly as strict as the data ports.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace haven::admin {

struct Request {
    std::string method;
    std::string path;  // without the query
    std::string query; // without '?'
    std::map<std::string, std::string> headers; // names lowercased; repeated fields joined with ", "
    std::string body;
    asio::ip::address peer;

    std::string header(const std::string& lower_name) const;
    // The value of a query parameter ("" when absent).
    std::string param(const std::string& name) const;
    bool has_param(const std::string& name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;

    static Response json(int status, std::string body);
    static Response error(int status, const std::string& message); // {"error": message}
    static Response text(int status, std::string body, std::string type = "text/plain; charset=utf-8");
};

using Handler = std::function<Response(const Request&)>;

class HttpServer {
public:
    HttpServer(asio::io_context& io, Handler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts accepting; throws std::runtime_error naming the address on failure.
    // Returns the bound endpoint (the real port when `ep` has port 0).
    asio::ip::tcp::endpoint listen(const asio::ip::tcp::endpoint& ep);
    void stop();

private:
    struct State;
    std::shared_ptr<State> state_;
};

// Serialises a response (HTTP/1.1, Content-Length, Date not included).
std::string serialize(const Response& r, bool keep_alive, bool head_request);

} // namespace haven::admin
