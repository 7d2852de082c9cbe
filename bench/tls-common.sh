# Shared by tls-peers.sh and tls-instructions.sh (sourced): one certificate and the same three
# proxy configurations, so that both benches measure the same setups. Needs $work and, for the
# configurations, $bport (the backend's port).

# make_cert ecdsa|rsa: c.pem, k.pem and haproxy.pem (both in one file) in $work
make_cert() {
    local newkey
    if [[ $1 == rsa ]]; then newkey=(-newkey rsa:2048); else newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); fi
    openssl req -x509 "${newkey[@]}" -nodes -keyout "$work/k.pem" -out "$work/c.pem" -days 2 -subj /CN=bench.test \
        -addext subjectAltName=DNS:bench.test,IP:127.0.0.1 2>/dev/null
    cat "$work/c.pem" "$work/k.pem" >"$work/haproxy.pem"
}

# nginx 1.22 (Debian 12) offers TLS 1.3 only when ssl_protocols says so (1.23.4 made it a default).
write_conf() { # PROXY PORT: $work/haven.yaml, $work/haproxy.cfg or $work/nginx.conf
    case $1 in
    haven) cat >"$work/haven.yaml" <<EOF
threads: 1
listeners:
  - { name: web, listen: "127.0.0.1:$2", pool: p, tls: { cert: $work/c.pem, key: $work/k.pem } }
pools:
  - { name: p, servers: [ { name: b1, address: "127.0.0.1:$bport" } ] }
EOF
    ;;
    haproxy) cat >"$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8000
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend f
    bind 127.0.0.1:$2 ssl crt $work/haproxy.pem alpn http/1.1
    default_backend b
backend b
    http-reuse always
    server b1 127.0.0.1:$bport
EOF
    ;;
    nginx) mkdir -p "$work/logs"; cat >"$work/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/t1; proxy_temp_path $work/t2; fastcgi_temp_path $work/t3;
    uwsgi_temp_path $work/t4; scgi_temp_path $work/t5;
    upstream b { server 127.0.0.1:$bport; keepalive 64; }
    server {
        listen 127.0.0.1:$2 ssl;
        ssl_certificate $work/c.pem; ssl_certificate_key $work/k.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:S:10m;
        location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
    ;;
    esac
}
