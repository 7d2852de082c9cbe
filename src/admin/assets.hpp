// The dashboard's files (src/admin/dashboard/), compiled into the binary by
// cmake/embed_assets.cmake.
#pragma once

#include <string_view>

namespace haven::admin {

// The content of `path` ("/index.html", "/dom.js", "/services.js", "/app.js", "/style.css"), or empty; sets `type`.
std::string_view dashboard_asset(std::string_view path, std::string_view& type);

} // namespace haven::admin
