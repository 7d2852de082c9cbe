#include "net/tls/credentials.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace haven::net::tls {
namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20; // a PEM chain or an OCSP response is far smaller

bool read_file(const std::string& path, std::string& out, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read " + path + ": " + std::strerror(errno);
        return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    if (out.size() > kMaxFileBytes) {
        error = path + " is larger than 1 MiB";
        return false;
    }
    return true;
}

std::int64_t unix_time(const ASN1_TIME* t) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<std::int64_t>(timegm(&tm));
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::vector<std::string> dns_names(X509* cert) {
    std::vector<std::string> names;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
            if (n->type != GEN_DNS) continue;
            const auto* s = n->d.dNSName;
            names.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                              static_cast<std::size_t>(ASN1_STRING_length(s)))));
        }
        GENERAL_NAMES_free(sans);
    }
    if (names.empty()) {
        char cn[256];
        const int len = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        if (len > 0) names.push_back(lower(std::string(cn, static_cast<std::size_t>(len))));
    }
    return names;
}

std::string date_text(std::int64_t unix) {
    const std::time_t t = static_cast<std::time_t>(unix);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

} // namespace

std::string openssl_error(const std::string& fallback) {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        const char* reason = ERR_reason_error_string(e);
        out += reason ? reason : buf;
    }
    return out.empty() ? fallback : out;
}

Credentials::~Credentials() {
    X509_free(leaf_);
    for (X509* c : chain_) X509_free(c);
    EVP_PKEY_free(key_);
}

std::shared_ptr<const Credentials> Credentials::load(const std::string& cert_file, const std::string& key_file,
                                                     const std::string& ocsp_file, std::int64_t now, Error& error) {
    std::shared_ptr<Credentials> c(new Credentials());
    ERR_clear_error();
    std::string text;
    error.part = Part::Cert;
    if (!read_file(cert_file, text, error.message)) return nullptr;
    {
        BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
        c->leaf_ = PEM_read_bio_X509_AUX(bio, nullptr, nullptr, nullptr);
        while (c->leaf_) {
            X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
            if (!extra) break;
            c->chain_.push_back(extra);
        }
        BIO_free(bio);
        ERR_clear_error(); // the end of the chain reads as "no start line"
    }
    if (!c->leaf_) {
        error.message = cert_file + " holds no PEM certificate";
        return nullptr;
    }
    c->not_after_ = unix_time(X509_get0_notAfter(c->leaf_));
    const std::int64_t not_before = unix_time(X509_get0_notBefore(c->leaf_));
    if (c->not_after_ <= now) {
        error.message = "the certificate in " + cert_file + " expired on " + date_text(c->not_after_);
        return nullptr;
    }
    if (not_before > now) {
        error.message = "the certificate in " + cert_file + " is not valid before " + date_text(not_before);
        return nullptr;
    }
    c->names_ = dns_names(c->leaf_);

    error.part = Part::Key;
    if (!read_file(key_file, text, error.message)) return nullptr;
    {
        BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
        // No passphrase prompt: OpenSSL's default would read one from the terminal.
        c->key_ = PEM_read_bio_PrivateKey(bio, nullptr, [](char*, int, int, void*) { return -1; }, nullptr);
        BIO_free(bio);
        OPENSSL_cleanse(text.data(), text.size());
    }
    if (!c->key_) {
        ERR_clear_error();
        error.message = key_file + " holds no PEM private key (an encrypted key is not supported)";
        return nullptr;
    }
    if (X509_check_private_key(c->leaf_, c->key_) != 1) {
        ERR_clear_error();
        error.message = "the key in " + key_file + " does not match the certificate in " + cert_file;
        return nullptr;
    }

    if (!ocsp_file.empty()) {
        error.part = Part::Ocsp;
        if (!read_file(ocsp_file, c->ocsp_, error.message)) return nullptr;
        const auto* p = reinterpret_cast<const unsigned char*>(c->ocsp_.data());
        OCSP_RESPONSE* resp = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(c->ocsp_.size()));
        if (!resp) {
            ERR_clear_error();
            error.message = ocsp_file + " is not a DER OCSP response";
            return nullptr;
        }
        const int status = OCSP_response_status(resp);
        OCSP_RESPONSE_free(resp);
        if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
            error.message = ocsp_file + " is an unsuccessful OCSP response (status " + std::to_string(status) + ")";
            return nullptr;
        }
    }
    return c;
}

} // namespace haven::net::tls
