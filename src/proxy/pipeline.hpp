// The order in which a request is handled. Read pipeline.cpp top to bottom to see it.
#pragma once

#include "net/io.hpp"
#include "proxy/request_context.hpp"

namespace haven::proxy {

net::awaitable<void> run_pipeline(RequestContext& ctx);

} // namespace haven::proxy
