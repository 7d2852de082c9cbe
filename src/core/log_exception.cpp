#include "core/log_exception.hpp"

#include <spdlog/spdlog.h>

namespace haven {

void log_exception(std::exception_ptr e, std::string_view what) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("{} failed: {}", what, ex.what());
    } catch (...) {
        spdlog::error("{} failed with an unknown exception", what);
    }
}

} // namespace haven
