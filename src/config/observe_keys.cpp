// The `slo` and `admin` keys (see observe_keys.hpp). As in yaml_loader.cpp, a value is checked
// where it is read, so the error points at it, and a bad value is not stored, so validate() —
// which holds configs built in code to the same rules — does not report it a second time.
#include "config/observe_keys.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace haven::config {
namespace {

constexpr std::string_view kSloKeys[] = {"availability", "latency_p99", "error_rate", "window"};
constexpr std::string_view kAdminKeys[] = {"listen", "token_file", "allow_writes_without_token"};

// A token is a line of text; a file much larger than that is the wrong file (or /dev/zero).
constexpr std::size_t kMaxTokenFileBytes = 64 * 1024;
constexpr std::string_view kBlank = " \t\r\n\v\f";

// The shortest text that reads back as `v`: 0.9995, not 0.999500.
std::string number_text(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : "?";
}

std::string percent_text(double fraction) { return number_text(fraction * 100) + "%"; }

// Rules: as read_percent's Fraction form (N% or a fraction 0..1) — but an SLO is usually written
// as "99.95", which would be a fraction of 9995%: name the likely intent rather than the range.
bool read_slo_percent(Reader& r, const Field& f, double& out) {
    if (f.value.IsScalar()) {
        auto parsed = rules::parse_percent(f.value.Scalar());
        if (parsed && !parsed->percent_sign && parsed->number > 1 && parsed->number <= 100) {
            r.error(f, "a bare number is a fraction of 1, so " + kind_of(f.value) +
                           " would be " + percent_text(parsed->number) + "; write " +
                           f.value.Scalar() + "% (or " + number_text(parsed->number / 100) + ")");
            return false;
        }
    }
    return r.read_percent(f, PercentForm::Fraction, 1.0, out);
}

// Rules: availability in (0, 100%]; error_rate in [0, 100%); latency_p99 > 0; window from 1h to
// 90d (shorter is not an objective, longer outgrows the history the tracker keeps).
void slo_key(Reader& r, std::string_view key, const Field& f, Slo& slo) {
    double fraction = 0;
    Duration d{0};
    if (key == "availability") {
        if (!read_slo_percent(r, f, fraction)) return;
        if (fraction > 0) slo.availability = fraction;
        else r.error(f, "must be more than 0% (e.g. 99.95%)");
    } else if (key == "error_rate") {
        if (!read_slo_percent(r, f, fraction)) return;
        if (fraction < 1) slo.error_rate = fraction;
        else r.error(f, "must be less than 100% (e.g. 0.1%)");
    } else if (key == "latency_p99") {
        r.read_duration(f, false, slo.latency_p99);
    } else if (key == "window") {
        if (!r.read_duration(f, false, d)) return;
        if (d >= rules::kMinSloWindow && d <= rules::kMaxSloWindow) slo.window = d;
        else r.error(f, "must be from 1h to 90d, got " + kind_of(f.value));
    }
}

// The file's content without leading and trailing whitespace (a trailing newline above all).
// Rules: a regular file (opening a FIFO or /dev/stdin would block the load; symbolic links, as
// mounted secrets use, are followed); readable; at most kMaxTokenFileBytes; not blank; one line.
std::optional<std::string> read_token_file(Reader& r, const Field& f, const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        r.error(f, "cannot read " + rules::quote(path) + ": " + std::strerror(errno));
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        r.error(f, rules::quote(path) +
                       " is not a regular file; it should hold the admin API token");
        return std::nullopt;
    }
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        r.error(f, "cannot read " + rules::quote(path) + ": " + std::strerror(errno));
        return std::nullopt;
    }
    std::string text(kMaxTokenFileBytes + 1, '\0');
    std::size_t n = std::fread(text.data(), 1, text.size(), file);
    bool failed = std::ferror(file) != 0;
    int err = errno;
    std::fclose(file);
    if (failed) {
        r.error(f, "cannot read " + rules::quote(path) + ": " + std::strerror(err));
        return std::nullopt;
    }
    if (n > kMaxTokenFileBytes) {
        r.error(f, rules::quote(path) + " is larger than 64 KiB; it should hold one token");
        return std::nullopt;
    }
    text.resize(n);
    auto first = text.find_first_not_of(kBlank);
    if (first == std::string::npos) {
        r.error(f, rules::quote(path) + " is empty; it should hold the admin API token");
        return std::nullopt;
    }
    text = text.substr(first, text.find_last_not_of(kBlank) - first + 1);
    if (rules::has_control_char(text)) {
        r.error(f, rules::quote(path) + " holds more than one line or a control character; "
                                        "write the token on one line");
        return std::nullopt;
    }
    return text;
}

bool overlaps(const Endpoint& a, const Endpoint& b) {
    if (a.port != b.port || a.port == 0) return false; // port 0: the kernel picks a free one
    auto ha = rules::canonical_host(a.host);
    auto hb = rules::canonical_host(b.host);
    auto wildcard = [](const std::string& h) { return h == "0.0.0.0" || h == "::"; };
    return ha == hb || wildcard(ha) || wildcard(hb);
}

// Only addresses that other machines cannot reach: 127.0.0.0/8, ::1, "localhost". A host name
// other than localhost may resolve to anything, so it counts as reachable.
bool is_loopback_host(const std::string& host) {
    if (host == "localhost") return true;
    unsigned char a[16];
    if (::inet_pton(AF_INET, host.c_str(), a) == 1) return a[0] == 127;
    if (::inet_pton(AF_INET6, host.c_str(), a) != 1) return false;
    static constexpr unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a, kLoopback6, 16) == 0 || (std::memcmp(a, kMapped, 12) == 0 && a[12] == 127);
}

class ObserveChecker {
public:
    ObserveChecker(const Config& c, std::vector<ConfigError>& errors) : c_(c), errors_(errors) {}

    void run() {
        slo("slo", c_.slo);
        for (std::size_t i = 0; i < c_.listeners.size(); ++i) {
            const auto& l = c_.listeners[i];
            if (l.slo) slo("listeners[" + std::to_string(i) + "].slo", *l.slo);
        }
        if (c_.admin) admin(*c_.admin);
    }

private:
    void add(SourceLoc loc, std::string message) {
        errors_.push_back(ConfigError{c_.source, loc.line, loc.column, std::move(message)});
    }

    // The loader's rules (slo_key), for values set in code; NaN fails every comparison.
    void slo(const std::string& path, const Slo& s) {
        if (!(s.availability > 0 && s.availability <= 1)) {
            add(s.loc, path + ".availability: must be more than 0% and at most 100%, got " +
                           percent_text(s.availability));
        }
        if (!(s.error_rate >= 0 && s.error_rate < 1)) {
            add(s.loc, path + ".error_rate: must be from 0% to less than 100%, got " +
                           percent_text(s.error_rate));
        }
        if (s.latency_p99.count() <= 0 || s.latency_p99.count() > rules::kMaxDurationMs) {
            add(s.loc, path + ".latency_p99: must be greater than 0 and at most 365d");
        }
        if (s.window < rules::kMinSloWindow || s.window > rules::kMaxSloWindow) {
            add(s.loc, path + ".window: must be from 1h to 90d, got " +
                           rules::duration_text(s.window));
        }
    }

    // Rules: listen is required; it is not the host:port of a data listener, nor one that a
    // wildcard (0.0.0.0, [::]) on the same port covers: the two would fail to bind, or with
    // SO_REUSEPORT split the port's connections between them. An address other machines can
    // reach needs a token for writes, unless allow_writes_without_token says otherwise.
    void admin(const Admin& a) {
        if (a.listen.text.empty()) {
            add(a.loc, "admin: missing \"listen\" (HOST:PORT, e.g. 127.0.0.1:9000)");
            return;
        }
        for (const auto& l : c_.listeners) {
            if (!overlaps(a.listen, l.listen)) continue;
            add(a.loc, "admin.listen: " + a.listen.text + " is also the address of listener " +
                           rules::quote(l.name) + " (" + l.listen.text + " at " +
                           rules::loc_text(l.loc) + "); the admin listener needs a port of "
                                                    "its own");
        }
        if (!is_loopback_host(a.listen.host) && a.token_file.empty() && !a.allow_writes_without_token) {
            add(a.loc, "admin.listen: " + a.listen.text +
                           " can be reached from the network, and admin.token_file is not set: anyone "
                           "who reaches it could drain every server. Set admin.token_file, listen on "
                           "127.0.0.1, or set admin.allow_writes_without_token: true to accept that");
        }
    }

    const Config& c_;
    std::vector<ConfigError>& errors_;
};

} // namespace

void read_slo(Reader& reader, const Field& f, Slo& slo) {
    slo.loc = reader.loc(f);
    reader.each_key(f, kSloKeys,
                    [&](std::string_view key, const Field& v) { slo_key(reader, key, v, slo); });
}

// A missing listen is reported by validate() (as a listener's is), at the admin mapping.
void read_admin(Reader& reader, const Field& m, Admin& admin) {
    admin.loc = reader.loc(m);
    reader.each_key(m, kAdminKeys, [&](std::string_view key, const Field& f) {
        if (key == "listen") {
            reader.read_endpoint(f, true, admin.listen);
            return;
        }
        if (key == "allow_writes_without_token") {
            reader.read_bool(f, admin.allow_writes_without_token);
            return;
        }
        std::string path;
        if (!reader.read_string(f, path)) return;
        if (path.empty()) {
            reader.error(f, "must not be empty (a file holding the admin API token)");
            return;
        }
        admin.token_file = path;
        if (auto token = read_token_file(reader, f, path)) admin.token = std::move(*token);
    });
}

void check_observe_keys(const Config& config, std::vector<ConfigError>& errors) {
    ObserveChecker(config, errors).run();
}

} // namespace haven::config
