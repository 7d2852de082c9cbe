// The `tls` keys of listeners and pools (see tls_keys.hpp and docs/tls.md).
#include "config/tls_keys.hpp"

#include "core/clock.hpp"
#include "net/tls/client_context.hpp"
#include "net/tls/server_context.hpp"

#include <filesystem>
#include <optional>

namespace haven::config {
namespace {

using net::tls::Credentials;

constexpr std::string_view kListenerTlsKeys[] = {"cert", "key", "ocsp", "certificates", "min_version", "ciphers",
                                                 "ciphersuites", "curves", "alpn", "session_tickets",
                                                 "ticket_rotation", "session_cache"};
constexpr std::string_view kCertificateKeys[] = {"cert", "key", "ocsp"};
constexpr std::string_view kPoolTlsKeys[] = {"verify", "ca", "server_name", "cert", "key", "min_version", "ciphers"};
constexpr EnumValue kVersions[] = {{"1.2", 0}, {"1.3", 1}};
constexpr rules::Range kSessionCache{0, 10'000'000};

// Where each file of one certificate was named, to point errors at it.
struct CertFields {
    std::optional<Field> cert, key, ocsp;
    Field at; // the certificate's mapping (or the tls mapping, for the shorthand)
};

std::int64_t now_seconds() { return wall_time_us() / 1'000'000; }

class TlsReader {
public:
    explicit TlsReader(Reader& r) : r_(r) {}

    // Rules: a relative path is relative to the config file's directory (as jwt key files).
    std::string beside_config(const std::string& written) const {
        const std::filesystem::path path(written);
        if (written.empty() || path.is_absolute()) return written;
        return (std::filesystem::path(r_.file()).parent_path() / path).string();
    }

    void listener(const Field& m, Listener& l) {
        TlsListener& t = l.tls.emplace();
        t.loc = r_.loc(m);
        CertFields shorthand{{}, {}, {}, m};
        std::vector<CertFields> certs;
        bool has_list = false;
        r_.each_key(m, kListenerTlsKeys, [&](std::string_view key, const Field& f) {
            if (key == "cert") shorthand.cert = f;
            else if (key == "key") shorthand.key = f;
            else if (key == "ocsp") shorthand.ocsp = f;
            else if (key == "certificates") {
                has_list = true;
                r_.each_item(f, [&](std::size_t, const Field& item) { certs.push_back(certificate(item)); });
            } else if (key == "min_version") version(f, t.min_version);
            else if (key == "ciphers") r_.read_string(f, t.ciphers);
            else if (key == "ciphersuites") r_.read_string(f, t.ciphersuites);
            else if (key == "curves") r_.read_string(f, t.curves);
            else if (key == "alpn") alpn(f, t.alpn);
            else if (key == "session_tickets") r_.read_bool(f, t.session_tickets);
            else if (key == "ticket_rotation") r_.read_duration(f, false, t.ticket_rotation);
            else if (key == "session_cache") r_.read_uint(f, kSessionCache, t.session_cache);
        });
        if (shorthand.cert || shorthand.key || shorthand.ocsp) {
            if (has_list) {
                r_.error(m, "give either cert/key or certificates:, not both");
                return;
            }
            certs.insert(certs.begin(), shorthand);
        }
        if (certs.empty()) {
            r_.error(m, "needs a certificate: cert: and key: (PEM files), or certificates: [...]");
            return;
        }
        std::vector<std::shared_ptr<const Credentials>> loaded;
        for (const auto& c : certs) {
            auto cr = load(c, t.certificates.emplace_back());
            if (!cr) return; // reported
            loaded.push_back(std::move(cr));
        }
        const std::vector<std::string> default_alpn =
            l.mode == ListenerMode::Http ? std::vector<std::string>{"http/1.1"} : std::vector<std::string>{};
        net::tls::ContextError err;
        auto keys = net::tls::TicketKeys::for_listener(l.name, t.ticket_rotation.count());
        t.context = net::tls::ServerContext::build(t, std::move(loaded), default_alpn, std::move(keys), err);
        if (!t.context) context_error(m, err, certs);
    }

    void pool(const Field& m, TlsUpstream& t) {
        t.loc = r_.loc(m);
        CertFields client{{}, {}, {}, m};
        std::optional<Field> ca;
        r_.each_key(m, kPoolTlsKeys, [&](std::string_view key, const Field& f) {
            if (key == "verify") r_.read_bool(f, t.verify);
            else if (key == "ca") {
                ca = f;
                if (r_.read_string(f, t.ca_file)) t.ca_file = beside_config(t.ca_file);
            } else if (key == "server_name") r_.read_string(f, t.server_name);
            else if (key == "cert") client.cert = f;
            else if (key == "key") client.key = f;
            else if (key == "min_version") version(f, t.min_version);
            else if (key == "ciphers") r_.read_string(f, t.ciphers);
        });
        std::shared_ptr<const Credentials> cr;
        if (client.cert || client.key) {
            TlsCertificate c;
            cr = load(client, c);
            if (!cr) return;
            t.cert_file = c.cert_file;
            t.key_file = c.key_file;
        }
        net::tls::ContextError err;
        t.context = net::tls::ClientContext::build(t, std::move(cr), err);
        if (!t.context) {
            const Field& at = err.key == "ca_file" && ca ? *ca : (err.key == "cert_file" && client.cert ? *client.cert : m);
            r_.error(at, err.message);
        }
    }

private:
    CertFields certificate(const Field& item) {
        CertFields c{{}, {}, {}, item};
        r_.each_key(item, kCertificateKeys, [&](std::string_view key, const Field& f) {
            if (key == "cert") c.cert = f;
            else if (key == "key") c.key = f;
            else c.ocsp = f;
        });
        return c;
    }

    // Reads the file names and loads them; null after reporting a problem.
    std::shared_ptr<const Credentials> load(const CertFields& c, TlsCertificate& out) {
        out.loc = r_.loc(c.at);
        if (!c.cert || !c.key) {
            r_.error(c.at, std::string("needs ") + (c.cert ? "key:" : "cert:") + " (a PEM file)");
            return nullptr;
        }
        if (!r_.read_string(*c.cert, out.cert_file) || !r_.read_string(*c.key, out.key_file)) return nullptr;
        if (c.ocsp && !r_.read_string(*c.ocsp, out.ocsp_file)) return nullptr;
        out.cert_file = beside_config(out.cert_file);
        out.key_file = beside_config(out.key_file);
        if (!out.ocsp_file.empty()) out.ocsp_file = beside_config(out.ocsp_file);
        Credentials::Error err;
        auto cr = Credentials::load(out.cert_file, out.key_file, out.ocsp_file, now_seconds(), err);
        if (!cr) {
            const Field& at = err.part == Credentials::Part::Cert ? *c.cert
                              : err.part == Credentials::Part::Key ? *c.key : *c.ocsp;
            r_.error(at, err.message);
        }
        return cr;
    }

    void context_error(const Field& m, const net::tls::ContextError& err, const std::vector<CertFields>& certs) {
        if (err.key == "certificates" && err.index < certs.size()) {
            r_.error(*certs[err.index].cert, err.message);
            return;
        }
        const YAML::Node node = m.value[err.key];
        if (node) {
            r_.error(Field{YAML::Mark::null_mark(), node, child_path(m.path, err.key)}, err.message);
        } else {
            r_.error(m, err.message);
        }
    }

    void version(const Field& f, std::string& out) {
        int v = 0;
        if (r_.read_enum(f, kVersions, v)) out = v == 0 ? "1.2" : "1.3";
    }

    void alpn(const Field& f, std::vector<std::string>& out) {
        r_.each_item(f, [&](std::size_t, const Field& item) {
            std::string name;
            if (!r_.read_string(item, name)) return;
            if (name.empty() || name.size() > 255) {
                r_.error(item, "a protocol name has 1 to 255 bytes");
                return;
            }
            out.push_back(std::move(name));
        });
    }

    Reader& r_;
};

} // namespace

void read_listener_tls(Reader& reader, const Field& f, Listener& listener) { TlsReader(reader).listener(f, listener); }

void read_pool_tls(Reader& reader, const Field& f, TlsUpstream& out) { TlsReader(reader).pool(f, out); }

} // namespace haven::config
