// Services and replicas as the admin API shows them (/api/services, /api/status "services",
// `haven ctl services`; field list in docs/supervisor.md).
#pragma once

#include "supervisor/service_runner.hpp"

#include <nlohmann/json.hpp>

namespace haven::supervisor {

nlohmann::json to_json(const ReplicaStatus& r);
nlohmann::json to_json(const ServiceStatus& s);
// "ready · pid 4242 · restarts 1 · last exit killed by SIGKILL": one line for the dashboard.
std::string one_line(const ReplicaStatus& r);

} // namespace haven::supervisor
