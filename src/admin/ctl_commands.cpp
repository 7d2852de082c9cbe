// The commands of `haven ctl` and how their answers are printed.
#include "admin/ctl.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace haven::admin {
namespace {

using nlohmann::json;

struct Call {
    std::string method;
    std::string target;
    std::string body;
    std::string (*format)(const json&) = nullptr; // null: print the JSON
};

// Columns sized to their widest cell.
std::string table(const std::vector<std::vector<std::string>>& rows, const std::string& indent = "") {
    std::vector<std::size_t> width;
    for (const auto& r : rows) {
        width.resize(std::max(width.size(), r.size()));
        for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    }
    std::string out;
    for (const auto& r : rows) {
        std::string line = indent;
        for (std::size_t i = 0; i < r.size(); ++i) line += fmt::format("{:<{}}{}", r[i], width[i], i + 1 < r.size() ? "  " : "");
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

std::string str(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_float()) return fmt::format("{:.2f}", v.get<double>());
    return v.dump();
}

std::string format_pool(const json& p) {
    std::string out = fmt::format("pool {}  tier {}  mode {}  serving {}/{}  failovers {}", str(p["name"]), str(p["tier"]),
                                  str(p["mode"]), str(p["serving"]), str(p["total"]), str(p["failovers"]));
    if (const auto q = p.find("queue"); q != p.end() && q->is_object()) {
        out += fmt::format("  queue {}/{} (full {}, timeouts {})", str((*q)["length"]), str((*q)["max"]), str((*q)["full"]),
                           str((*q)["timeouts"]));
    }
    out += "\n";
    std::vector<std::vector<std::string>> rows{
        {"SERVER", "ADDRESS", "STATE", "HEALTH", "ADMIN", "WEIGHT", "PRIO", "ACTIVE", "REQUESTS", "FAILURES", "LAST CHECK"}};
    for (const auto& s : p["servers"]) {
        const std::string check = s["last_check"].get<std::string>().empty()
                                      ? "-"
                                      : fmt::format("{} ({:.1f} ms)", str(s["last_check"]), s["last_check_ms"].get<double>());
        rows.push_back({str(s["name"]), str(s["address"]), str(s["state"]), str(s["health"]), str(s["admin"]),
                        str(s["weight"]), str(s["priority"]) + (s["backup"].get<bool>() ? " backup" : ""),
                        str(s["active"]) + (s.value("max_connections", 0) > 0 ? "/" + str(s["max_connections"]) : ""),
                        str(s["requests"]), str(s["failures"]), check});
    }
    return out + table(rows, "  ");
}

std::string format_pools(const json& j) {
    std::string out;
    for (const auto& p : j["pools"]) out += format_pool(p) + "\n";
    return out;
}

std::string format_events(const json& j) {
    std::vector<std::vector<std::string>> rows{{"SEQ", "TIME", "EVENT", "POOL", "SERVER", "DETAIL"}};
    for (const auto& e : j["events"]) {
        rows.push_back({str(e["seq"]), str(e["time"]), str(e["kind"]), str(e["pool"]), str(e["server"]), str(e["detail"])});
    }
    return table(rows);
}

std::string format_slo_listener(const json& l, const json& slo) {
    const auto& t = slo["target"];
    std::string out = fmt::format("listener {}  target availability {:.3f}%  p99 {:.0f} ms  error rate {:.3f}%  window {:.0f} d\n",
                                  str(l), t["availability"].get<double>(), t["latency_p99_ms"].get<double>(),
                                  t["error_rate"].get<double>(), t["window_days"].get<double>());
    std::vector<std::vector<std::string>> rows{{"WINDOW", "REQUESTS", "AVAILABILITY", "ERROR RATE", "P99"}};
    for (const char* w : {"5m", "1h", "slo"}) {
        const auto& s = slo["windows"][w];
        rows.push_back({w, str(s["requests"]), fmt::format("{:.4f}%", s["availability"].get<double>()),
                        fmt::format("{:.4f}%", s["error_rate"].get<double>()), fmt::format("{:.1f} ms", s["p99_ms"].get<double>())});
    }
    out += table(rows, "  ");
    out += fmt::format("  allowed downtime {:.0f} s, error budget remaining {:.1f}%, burn rate 5m {:.2f} 1h {:.2f}\n",
                       slo["allowed_downtime_seconds"].get<double>(), slo["error_budget_remaining"].get<double>() * 100,
                       slo["burn_rate_5m"].get<double>(), slo["burn_rate_1h"].get<double>());
    return out;
}

std::string format_slo(const json& j) {
    std::string out;
    for (const auto& l : j["listeners"]) out += format_slo_listener(l["listener"], l["slo"]);
    return out;
}

std::string format_status(const json& j) {
    std::string out = fmt::format("haven {}  up {:.0f} s  ready {}\n\n", str(j["version"]), j["uptime_seconds"].get<double>(),
                                  j["ready"].get<bool>() ? "yes" : "no");
    std::vector<std::vector<std::string>> rows{{"LISTENER", "ADDRESS", "MODE", "REQ/S", "ERRORS", "P50", "P99"}};
    for (const auto& l : j["listeners"]) {
        rows.push_back({str(l["name"]), str(l["address"]), str(l["mode"]), fmt::format("{:.1f}", l["rps"].get<double>()),
                        fmt::format("{:.2f}%", l["error_rate"].get<double>() * 100),
                        fmt::format("{:.1f} ms", l["p50_ms"].get<double>()), fmt::format("{:.1f} ms", l["p99_ms"].get<double>())});
    }
    out += table(rows) + "\n";
    for (const auto& p : j["pools"]) out += format_pool(p) + "\n";
    return out;
}

std::string format_health(const json& j) {
    std::vector<std::vector<std::string>> rows{{"CHECK", "OK", "DETAIL"}};
    for (const auto& [name, c] : j["checks"].items()) rows.push_back({name, c["ok"].get<bool>() ? "yes" : "NO", str(c["detail"])});
    return "status " + str(j["status"]) + "\n" + table(rows);
}

std::string format_ok(const json& j) { return j.dump() + "\n"; }

bool is_uint(const std::string& s) {
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string format_policies(const json& j) {
    std::vector<std::vector<std::string>> rows{{"ROUTE", "LIMITS", "RATE LIMITED", "BREAKER", "TRIPS", "FAULT", "FALLBACK"}};
    for (const auto& r : j["routes"]) {
        std::string limits;
        for (const auto& l : r["limits"]) limits += (limits.empty() ? "" : ", ") + str(l);
        const auto& f = r["fault"];
        std::string fault = "-";
        if (f["abort_percent"].get<double>() > 0 || f["delay_percent"].get<double>() > 0) {
            fault = fmt::format("abort {:g}% delay {:g}%", f["abort_percent"].get<double>(), f["delay_percent"].get<double>());
            if (f["expires_in_s"].get<double>() > 0) fault += fmt::format(" ({:.0f}s left)", f["expires_in_s"].get<double>());
        }
        const bool b = r.contains("breaker");
        rows.push_back({str(r["route"]), limits.empty() ? "-" : limits, str(r["rate_limited"]),
                        b ? str(r["breaker"]["state"]) : "-", b ? str(r["breaker"]["trips"]) : "-", fault,
                        !r["fallback"].get<bool>() ? "-"
                        : fmt::format("{} answered{}", str(r["degraded"]),
                                      r.value("stale_served", 0) > 0 ? fmt::format(" ({} stale)", str(r["stale_served"])) : "")});
    }
    return table(rows);
}

// `haven ctl fault LISTENER ROUTE|* abort=PCT status=N delay=PCT ms=N for=SECONDS` as the JSON
// body of POST /api/policies/faults; "" and an error when an argument is not understood.
std::string fault_body(const std::vector<std::string>& c, std::string& error) {
    json j = {{"listener", c[1]}};
    if (c[2] != "*") j["route"] = c[2];
    static const std::pair<const char*, const char*> kKeys[] = {
        {"abort", "abort_percent"}, {"status", "abort_status"}, {"delay", "delay_percent"}, {"ms", "delay_ms"}, {"for", "duration_s"}};
    for (std::size_t i = 3; i < c.size(); ++i) {
        const auto eq = c[i].find('=');
        const std::string key = c[i].substr(0, eq);
        const char* field = nullptr;
        for (const auto& [k, f] : kKeys) {
            if (key == k) field = f;
        }
        const std::string value = eq == std::string::npos ? "" : c[i].substr(eq + 1);
        if (!field || !is_uint(value)) {
            error = "usage: haven ctl fault LISTENER ROUTE|* [abort=PCT] [status=N] [delay=PCT ms=N] [for=SECONDS] (got \"" + c[i] + "\")";
            return "";
        }
        j[field] = std::stoull(value);
    }
    return j.dump();
}

std::string format_reload(const json& j) {
    return table({{"RELOAD", "FILE", "LISTENERS", "POOLS", "SERVERS"},
                  {"applied", str(j["source"]), str(j["listeners"]), str(j["pools"]), str(j["servers"])}});
}

// `haven ctl services`: one row per replica (src/supervisor/status_json.cpp has the fields).
std::string format_services(const json& j) {
    std::string out;
    for (const auto& s : j["services"]) {
        out += fmt::format("service {}  ready {}/{}  restart {}{}\n", str(s["name"]), str(s["ready"]), str(s["desired"]),
                           str(s["restart"]),
                           s["rolling_restart"].is_null()
                               ? ""
                               : fmt::format("  rolling restart {}/{}", str(s["rolling_restart"]["at"]), str(s["rolling_restart"]["of"])));
        std::vector<std::vector<std::string>> rows{{"REPLICA", "PID", "PORT", "STATE", "RESTARTS", "LAST EXIT", "LIVENESS", "READINESS"}};
        const auto probe = [](const json& p) {
            return p.is_null() ? std::string("-") : str(p["state"]) + (str(p["last"]).empty() ? "" : " (" + str(p["last"]) + ")");
        };
        for (const auto& r : s["replicas"]) {
            rows.push_back({str(r["name"]), r["pid"].is_null() ? "-" : str(r["pid"]), r["port"].is_null() ? "-" : str(r["port"]),
                            str(r["state"]), str(r["restarts"]), r["last_exit"].is_null() ? "-" : str(r["last_exit"]),
                            probe(r["liveness"]), probe(r["readiness"])});
        }
        out += table(rows, "  ") + "\n";
    }
    return out;
}

std::string format_restart(const json& j) {
    return "rolling restart of " + str(j["restarting"]) + " started (haven ctl services shows its progress)\n";
}

// Maps the command line to one API call; "" error on success.
std::string plan(const std::vector<std::string>& c, Call& call) {
    const auto need = [&](std::size_t n, const char* usage) {
        return c.size() == n ? std::string() : std::string("usage: haven ctl ") + usage;
    };
    const std::string& cmd = c.empty() ? std::string() : c[0];
    if (cmd == "status") return call = {"GET", "/api/status", "", format_status}, need(1, "status");
    if (cmd == "pools") return call = {"GET", "/api/pools", "", format_pools}, need(1, "pools");
    if (cmd == "pool") return c.size() == 2 ? (call = {"GET", "/api/pools/" + c[1], "", format_pool}, "") : need(2, "pool NAME");
    if (cmd == "drain" || cmd == "enable" || cmd == "maint" || cmd == "disable") {
        if (c.size() != 3) return "usage: haven ctl " + cmd + " POOL SERVER";
        call = {"POST", "/api/pools/" + c[1] + "/servers/" + c[2] + "/" + cmd, "", format_pool};
        return "";
    }
    if (cmd == "weight") {
        if (c.size() != 4) return "usage: haven ctl weight POOL SERVER WEIGHT";
        if (!is_uint(c[3])) return "usage: haven ctl weight POOL SERVER WEIGHT (WEIGHT: an integer 0-256, got \"" + c[3] + "\")";
        call = {"POST", "/api/pools/" + c[1] + "/servers/" + c[2] + "/weight?value=" + c[3], "", format_pool};
        return "";
    }
    if (cmd == "events") {
        if (c.size() > 2) return "usage: haven ctl events [SINCE]";
        if (c.size() == 2 && !is_uint(c[1])) return "usage: haven ctl events [SINCE] (SINCE: an event number, got \"" + c[1] + "\")";
        call = {"GET", "/api/events" + (c.size() == 2 ? "?since=" + c[1] : std::string()), "", format_events};
        return "";
    }
    if (cmd == "reload") return call = {"POST", "/api/reload", "", format_reload}, need(1, "reload");
    if (cmd == "policies") return call = {"GET", "/api/policies", "", format_policies}, need(1, "policies");
    if (cmd == "fault") {
        if (c.size() < 4) return "usage: haven ctl fault LISTENER ROUTE|* [abort=PCT] [status=N] [delay=PCT ms=N] [for=SECONDS]";
        std::string error;
        const std::string body = fault_body(c, error);
        if (!error.empty()) return error;
        call = {"POST", "/api/policies/faults", body, format_ok};
        return "";
    }
    if (cmd == "fault-clear") {
        if (c.size() != 2 && c.size() != 3) return "usage: haven ctl fault-clear LISTENER [ROUTE]";
        json j = {{"listener", c[1]}};
        if (c.size() == 3) j["route"] = c[2];
        call = {"POST", "/api/policies/faults/clear", j.dump(), format_ok};
        return "";
    }
    if (cmd == "services") return call = {"GET", "/api/services", "", format_services}, need(1, "services");
    if (cmd == "restart") {
        return c.size() == 2 ? (call = {"POST", "/api/services/" + c[1] + "/restart", "", format_restart}, "")
                             : need(2, "restart SERVICE");
    }
    if (cmd == "config") return call = {"GET", "/api/config", "", nullptr}, need(1, "config");
    if (cmd == "slo") return call = {"GET", "/api/slo", "", format_slo}, need(1, "slo");
    if (cmd == "ready") return call = {"GET", "/ready", "", format_ok}, need(1, "ready");
    if (cmd == "health") {
        if (c.size() == 2 && c[1] != "deep") return "usage: haven ctl health [deep]";
        call = {"GET", c.size() == 2 ? "/health?deep=1" : "/health", "", nullptr};
        if (c.size() == 2) call.format = format_health;
        return c.size() <= 2 ? "" : "usage: haven ctl health [deep]";
    }
    return "unknown command \"" + cmd + "\" (status, pools, pool, drain, enable, maint, weight, events, reload, config, "
           "slo, ready, health, policies, fault, fault-clear, services, restart)";
}

} // namespace

CtlResult run_ctl(const CtlOptions& o, const std::vector<std::string>& command) {
    Call call;
    if (const std::string usage = plan(command, call); !usage.empty()) return {2, "", usage + "\n"};
    HttpReply reply;
    std::string error;
    if (!http_call(o.address, call.method, call.target, o.token, call.body, o.timeout_s, reply, error)) {
        return {1, "", "haven ctl: " + error + "\n"};
    }
    const json j = json::parse(reply.body, nullptr, false);
    if (reply.status >= 400) {
        const bool listed = !j.is_discarded() && j.contains("errors") && j["errors"].is_array();
        const std::string why = !j.is_discarded() && j.contains("error") ? j["error"].get<std::string>() : reply.body;
        std::string err = fmt::format("haven ctl: {} ({})\n", listed ? "refused" : why, reply.status);
        if (listed) {
            for (const auto& e : j["errors"]) err += "  " + str(e) + "\n";
        }
        return {1, o.json ? reply.body : "", err};
    }
    const bool unhealthy = reply.status < 200 || reply.status >= 300; // 202: a rolling restart was accepted
    if (o.json || j.is_discarded() || !call.format) return {unhealthy ? 1 : 0, reply.body, ""};
    try {
        return {unhealthy ? 1 : 0, call.format(j), ""};
    } catch (const json::exception&) {
        return {unhealthy ? 1 : 0, reply.body, ""}; // an answer of another shape: show it as it is
    }
}

} // namespace haven::admin
