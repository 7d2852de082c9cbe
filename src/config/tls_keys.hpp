// Internal to src/config: the `tls` mapping of a listener and of a pool (tls_keys.cpp). Reading
// it loads the certificate and key files and builds the OpenSSL contexts, so every problem a
// certificate could cause at run time is a config error here, at the key that names the file.
#pragma once

#include "config/yaml_reader.hpp"

namespace haven::config {

// Called once the listener's other keys are read (its name and mode decide the ticket keys and
// the default ALPN).
void read_listener_tls(Reader& reader, const Field& f, Listener& listener);
void read_pool_tls(Reader& reader, const Field& f, TlsUpstream& out);

} // namespace haven::config
