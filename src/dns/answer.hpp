// Responder: one query in, one response out, from a Snapshot (the zones and the health view).
// Authoritative rules (RFC 1034 4.3.2, RFC 2308, RFC 6891, RFC 7871, RFC 8482):
//   - a name in a served zone: its records (AA); a CNAME is followed within the served zones (at
//     most 8 links); NS, MX and SRV answers carry the A/AAAA records of their targets when haven
//     serves those names (additional section, dropped rather than truncating);
//   - the name exists with other types, or has names below it: NODATA — NOERROR with the zone's
//     SOA in the authority section, its TTL min(SOA TTL, MINIMUM); no such name: NXDOMAIN, same SOA;
//   - a name in no served zone, a class other than IN, a zone transfer: REFUSED, without AA;
//   - ANY: one synthesised HINFO "RFC8482" (RFC 8482), so ANY cannot amplify;
//   - UDP answers fit min(client's EDNS payload or 512, dns.max_udp_payload); one that does not
//     is sent with TC set and only its question (and OPT), and the client asks again over TCP,
//     which gets the whole answer;
//   - with EDNS, the response has an OPT record (our payload size, the DO bit echoed) and echoes a
//     Client Subnet option, whose scope is the source prefix when the answer depended on the
//     client's region (latency routing) and 0 otherwise.
#pragma once

#include "core/random.hpp"
#include "dns/health_view.hpp"
#include "dns/message.hpp"
#include "dns/zone_data.hpp"

#include <memory>
#include <span>
#include <vector>

namespace haven::dns {

struct Snapshot {
    std::shared_ptr<const ZoneData> data;
    std::shared_ptr<const HealthView> view;
};

struct ClientAddress {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{}; // IPv4 in the first 4
};

enum class Transport { Udp, Tcp };

// What one response was, for the counters.
struct Outcome {
    bool responded = false;
    Rcode rcode = Rcode::NoError;
    bool nodata = false;
    bool truncated = false;
    bool edns = false;
    std::uint16_t qtype = 0;
};

class Responder {
public:
    explicit Responder(Random& random) : random_(random) {}

    // Writes the response to `packet` into `out` (65535 bytes hold any TCP answer) and returns its
    // size; 0 means no response at all (ParseStatus::Drop).
    std::size_t answer(const Snapshot& snapshot, std::span<const std::uint8_t> packet, const ClientAddress& client,
                       Transport transport, std::span<std::uint8_t> out, Outcome& outcome);

    // The question alone with TC set (and OPT): what response-rate limiting sends instead of
    // dropping now and then, so that a real client behind a limited subnet retries over TCP.
    // 0 when the packet is not a query worth answering.
    std::size_t truncated(const Snapshot& snapshot, std::span<const std::uint8_t> packet, std::span<std::uint8_t> out);

private:
    Random& random_;
    Query query_;
    std::vector<const Rdata*> picked_;
};

} // namespace haven::dns
