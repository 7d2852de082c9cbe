// A certificate chain and its private key, read from PEM files and checked before anything serves
// with them: the files parse, the key matches the certificate, the certificate is valid now, and
// an OCSP response to staple (if given) parses. Loading happens on the control thread (config
// load and reload); the result is immutable and shared by the contexts built from it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace haven::net::tls {

class Credentials {
public:
    ~Credentials();
    Credentials(const Credentials&) = delete;
    Credentials& operator=(const Credentials&) = delete;

    X509* leaf() const { return leaf_; }
    const std::vector<X509*>& chain() const { return chain_; } // intermediates, in file order
    EVP_PKEY* key() const { return key_; }
    const std::string& ocsp() const { return ocsp_; } // DER, empty: none
    // The DNS names the certificate is for (subjectAltName DNS entries, else the subject's CN),
    // lower case; "*.example.com" for a wildcard.
    const std::vector<std::string>& names() const { return names_; }
    std::int64_t not_after() const { return not_after_; } // Unix seconds

    // Which file a problem is in: the config key to name.
    enum class Part { Cert, Key, Ocsp };
    struct Error {
        Part part;
        std::string message;
    };
    // `now`: Unix seconds, for the validity check. On failure returns null and fills `error`.
    static std::shared_ptr<const Credentials> load(const std::string& cert_file, const std::string& key_file,
                                                   const std::string& ocsp_file, std::int64_t now, Error& error);

private:
    Credentials() = default;
    X509* leaf_ = nullptr;
    std::vector<X509*> chain_;
    EVP_PKEY* key_ = nullptr;
    std::string ocsp_;
    std::vector<std::string> names_;
    std::int64_t not_after_ = 0;
};

// The text of OpenSSL's error queue (emptied), e.g. "PEM_read_bio_X509: no start line"; `fallback`
// when the queue is empty.
std::string openssl_error(const std::string& fallback);

} // namespace haven::net::tls
