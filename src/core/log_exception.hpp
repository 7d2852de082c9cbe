// Logs the exception a coroutine ended with (the completion handler of co_spawn), if any.
#pragma once

#include <exception>
#include <string_view>

namespace haven {

void log_exception(std::exception_ptr e, std::string_view what = "task");

} // namespace haven
