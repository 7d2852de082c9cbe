// Database role keys of a pool and the postgres health check (role_keys.hpp). Values are checked
// where they are read, so an error points at the key; the rules between keys are in
// check_pool_roles.
#include "config/role_keys.hpp"

#include "config/value_rules.hpp"

namespace haven::config {
namespace {

constexpr EnumValue kRoles[] = {{"any", static_cast<int>(PoolRole::Any)},
                                {"primary", static_cast<int>(PoolRole::Primary)},
                                {"replica", static_cast<int>(PoolRole::Replica)},
                                {"prefer_replica", static_cast<int>(PoolRole::PreferReplica)}};
constexpr EnumValue kOnMarkedDown[] = {{"none", static_cast<int>(OnMarkedDown::None)},
                                       {"shutdown_sessions", static_cast<int>(OnMarkedDown::ShutdownSessions)}};
constexpr EnumValue kSslModes[] = {{"disable", 0}, {"allow", 1}, {"prefer", 2}, {"require", 3}};
constexpr std::string_view kPostgresKeys[] = {"user", "database", "password_file", "sslmode"};
// A password file holds one line; anything bigger is the wrong file.
constexpr std::uint64_t kMaxPasswordFile = 4096;
// Replica lag in bytes: up to 4 GiB (a replica further behind is not one to read from).
constexpr rules::Range kMaxLagBytes{0, 0xFFFFFFFFu};

// Rules: a libpq keyword value — non-empty, printable, no NUL (libpq takes C strings).
bool read_word(Reader& r, const Field& f, std::string& out) {
    std::string text;
    if (!r.read_string(f, text)) return false;
    if (text.empty() || text.size() > 256) {
        r.error(f, "must be 1 to 256 characters");
        return false;
    }
    for (const unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
            r.error(f, "must not contain control characters");
            return false;
        }
    }
    out = std::move(text);
    return true;
}

} // namespace

bool read_pool_role_key(Reader& r, std::string_view key, const Field& f, Pool& p) {
    if (key == "role") {
        r.read_enum(f, kRoles, p.role);
    } else if (key == "max_lag") {
        r.read_duration(f, true, p.max_lag);
    } else if (key == "max_lag_bytes") {
        r.read_size(f, kMaxLagBytes, p.max_lag_bytes);
    } else if (key == "on_marked_down") {
        OnMarkedDown v = OnMarkedDown::None;
        if (r.read_enum(f, kOnMarkedDown, v)) p.on_marked_down = v;
    } else {
        return false;
    }
    return true;
}

void read_postgres_check(Reader& r, const Field& m, PostgresCheck& out) {
    r.each_key(m, kPostgresKeys, [&](std::string_view key, const Field& f) {
        if (key == "user") {
            read_word(r, f, out.user);
        } else if (key == "database") {
            read_word(r, f, out.database);
        } else if (key == "sslmode") {
            int mode = 0;
            if (r.read_enum(f, kSslModes, mode)) out.sslmode = std::string(kSslModes[mode].name);
        } else if (key == "password_file") {
            if (!r.read_string(f, out.password_file)) return;
            auto bytes = r.read_file(f, out.password_file, kMaxPasswordFile);
            if (!bytes) return;
            // The first line, without its line end (as `echo secret > file` writes it).
            auto line = bytes->substr(0, bytes->find_first_of("\r\n"));
            if (line.empty()) {
                r.error(f, "the password file's first line is empty");
                return;
            }
            out.password = std::move(line);
        }
    });
}

void check_pool_roles(const Pool& p, const std::string& path,
                      const std::function<void(SourceLoc, std::string)>& add) {
    const bool replicas = p.role == PoolRole::Replica || p.role == PoolRole::PreferReplica;
    const bool postgres = p.health_check && p.health_check->kind == HealthCheck::Kind::Postgres;
    if (p.role != PoolRole::Any) {
        if (!p.health_check || p.health_check->kind == HealthCheck::Kind::Tcp) {
            add(p.loc, path + ".role: a role needs a health_check that tells it: postgres: (the server's own "
                              "answer) or http: (Patroni's /primary or /replica)");
        } else if (p.role == PoolRole::PreferReplica && !postgres) {
            add(p.loc, path + ".role: prefer_replica needs the postgres: check (an HTTP check cannot tell a "
                              "primary from a replica that fails it)");
        }
    }
    if (p.max_lag.count() > 0 && !replicas) {
        add(p.loc, path + ".max_lag: only for role: replica or prefer_replica");
    } else if (p.max_lag.count() > 0 && !postgres) {
        add(p.loc, path + ".max_lag: needs the postgres: check (with http:, put the bound in the path, "
                          "as Patroni's /replica?lag=)");
    }
    if (p.max_lag_bytes > 0 && !replicas) {
        add(p.loc, path + ".max_lag_bytes: only for role: replica or prefer_replica");
    } else if (p.max_lag_bytes > 0 && !postgres) {
        add(p.loc, path + ".max_lag_bytes: needs the postgres: check");
    }
}

} // namespace haven::config
