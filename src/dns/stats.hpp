// The DNS server's counters: written by the DNS thread only (relaxed load + store, core/counters.hpp),
// read by the metrics scrape and the admin API on the control thread.
#pragma once

#include "core/counters.hpp"

#include <array>
#include <cstdint>
#include <string_view>

namespace haven::dns {

// The response codes counted, in this order.
inline constexpr std::array<std::string_view, 7> kRcodeNames = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                                                "NOTIMP",  "REFUSED", "BADVERS"};
// The query types counted by name; any other is "other".
inline constexpr std::array<std::string_view, 10> kQtypeNames = {"A",   "AAAA", "CNAME", "MX",  "NS",
                                                                 "SOA", "SRV",  "TXT",   "ANY", "other"};

struct DnsStats {
    Counter udp_queries;
    Counter tcp_queries;
    std::array<Counter, kRcodeNames.size()> rcodes;
    std::array<Counter, kQtypeNames.size()> qtypes;
    Counter nodata;         // NOERROR without an answer
    Counter truncated;      // UDP answers sent with TC because they did not fit
    Counter dropped;        // packets not answered: shorter than a header, responses, oversized
    Counter rrl_dropped;    // over the rate limit: no response
    Counter rrl_slipped;    // over the rate limit: truncated response
    Counter tcp_accepted;
    Counter tcp_rejected;   // over max_tcp_connections
    Counter tcp_active;     // gauge
    Counter send_errors;
};

} // namespace haven::dns
