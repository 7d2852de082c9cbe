#include "proxy/request_context.hpp"

namespace haven::proxy {

void RequestContext::reset() {
    session = nullptr;
    worker = nullptr;
    req = http::RequestHead{};
    start = TimePoint{};
    start_wall_us = 0;
    input_used = 0;
    body_sent = 0;
    body_complete = false;
    body_streamed = false;
    generated_id = false;
    route_metrics = nullptr;
    pool_index = UINT32_MAX;
    pool = nullptr;
    host = upstream::kNoHost;
    host_rt = nullptr;
    slots.reset();
    slot_wait = false;
    attempts = 0;
    retries = 0;
    pool_held = false;
    policies = nullptr;
    route_admission = upstream::BreakerGate::Admission::NotAsked;
    pool_admission = upstream::BreakerGate::Admission::NotAsked;
    policy_wait = Duration::zero();
    fault_delay = nullptr;
    bulkhead = nullptr;
    caps = nullptr;
    capped_retries = 0;
    bulkhead_pending = false;
    reply_fields_len = 0;
    added_fields_len = 0;
    fallback_pool = UINT32_MAX;
    stale_capture = false;
    if (stale_body.capacity() != 0) std::string().swap(stale_body); // a cut response's copy: gone

    degraded = nullptr;
    sticky_host = upstream::kNoHost;
    cookie_host = upstream::kNoHost;
    stick_key = 0;
    sticky_done = false;
    backoff_due = false;
    attempt_reported = false;
    body_copy_valid = false;
    body_copy.clear();
    request_sent = false;
    conn.reset();
    conn_reused = false;
    force_fresh = false;
    stale_retries = 0;
    resp = http::ResponseHead{};
    response_started = false;
    upgrade = false;
    upstream_reusable = false;
    out_head.clear();
    chunked.reset();
    status = 0;
    flag = ResponseFlag::None;
    bytes_in = 0;
    bytes_out = 0;
    close_client = false;
}

} // namespace haven::proxy
