// Building one response (the rules are in answer.hpp). A Response writes header, question,
// sections and OPT into the caller's buffer in one pass; the header's counts and flags are
// patched at the end.
#include "dns/answer.hpp"

#include "dns/selection.hpp"

#include <algorithm>

namespace haven::dns {
namespace {

constexpr std::size_t kMaxCnameChain = 8;
constexpr std::size_t kMaxAdditionalTargets = 16;
constexpr std::size_t kTcpMax = 65535;
// HINFO "RFC8482" "": the whole answer to ANY (RFC 8482 section 4.2).
constexpr std::string_view kHinfo{"\x07RFC8482\x00", 9};

std::size_t ecs_bytes(const ClientSubnet& e) { return (e.source_prefix + 7u) / 8u; }

class Response {
public:
    Response(const Snapshot& s, const Query& q, const ClientAddress& client, Random& random,
             std::vector<const Rdata*>& scratch, Writer& w)
        : d_(*s.data), view_(*s.view), q_(q), client_(client), random_(random), picked_(scratch), w_(w) {}

    bool echo_ecs() const { return q_.edns && q_.ecs.present && d_.options.client_subnet; }
    std::size_t opt_size() const { return q_.edns ? 11 + (echo_ecs() ? 8 + ecs_bytes(q_.ecs) : 0) : 0; }

    void question() {
        static constexpr char kBlankHeader[kHeaderSize] = {};
        w_.bytes(std::string_view(kBlankHeader, kHeaderSize)); // patched by finish()
        if (!q_.has_question) return;
        w_.name(q_.name(), q_.raw_name());
        w_.u16(q_.qtype);
        w_.u16(q_.qclass);
        qd_ = 1;
    }

    // Rules (answer.hpp): class IN (or ANY), no zone transfers, no meta types.
    Rcode resolve(Outcome& outcome) {
        if (q_.qclass != rr::ClassIN && q_.qclass != rr::ClassANY) return Rcode::Refused;
        if (q_.qtype == rr::AXFR || q_.qtype == rr::IXFR) return Rcode::Refused;
        if (q_.qtype == rr::OPT || (q_.qtype >= 128 && q_.qtype < rr::ANY)) return Rcode::NotImp;
        const Node* node = d_.find(q_.name());
        if (!node) {
            const ZoneInfo* zone = d_.zone_of(q_.name());
            if (!zone) return Rcode::Refused;
            aa_ = true;
            soa(*zone);
            return Rcode::NxDomain;
        }
        aa_ = true;
        return chase(node, outcome);
    }

    // Answers at `node`, following CNAMEs to names haven serves.
    Rcode chase(const Node* node, Outcome& outcome) {
        for (std::size_t link = 0; link <= kMaxCnameChain; ++link) {
            const ZoneInfo& zone = d_.zones[node->zone];
            if (q_.qtype == rr::ANY && !node->rrsets.empty()) {
                record(node->owner, rr::HINFO, zone.soa_ttl, kHinfo);
                return Rcode::NoError;
            }
            if (const RRSet* set = d_.rrset(*node, q_.qtype)) {
                rrset(node->owner, *set, an_);
                additional(*set);
                return Rcode::NoError;
            }
            const RRSet* cname = q_.qtype != rr::CNAME ? d_.rrset(*node, rr::CNAME) : nullptr;
            if (!cname) {
                outcome.nodata = true;
                soa(zone);
                return Rcode::NoError;
            }
            const std::string_view target = rrset(node->owner, *cname, an_);
            node = d_.find(target);
            if (!node) {
                const ZoneInfo* other = d_.zone_of(target);
                if (!other) return Rcode::NoError; // the resolver follows it from here
                soa(*other);
                return Rcode::NxDomain;
            }
        }
        return Rcode::NoError;
    }

    // The OPT record and the header; the limit goes back to the whole buffer, since the OPT
    // record's room was held back.
    void finish(std::size_t limit, Rcode rc, bool tc, std::uint8_t* buf) {
        w_.set_limit(limit);
        std::uint16_t ar = ar_;
        if (q_.edns) {
            opt(rc);
            ++ar;
        }
        const auto code = static_cast<std::uint16_t>(rc);
        const std::uint16_t flags = flag::QR | static_cast<std::uint16_t>(q_.opcode << 11) | (aa_ ? flag::AA : 0) |
                                    (tc ? flag::TC : 0) | (q_.flags & (flag::RD | flag::CD)) | (code & 0x0F);
        const std::uint16_t words[6] = {q_.id, flags, qd_, an_, ns_, ar};
        for (std::size_t i = 0; i < 6; ++i) {
            buf[2 * i] = static_cast<std::uint8_t>(words[i] >> 8);
            buf[2 * i + 1] = static_cast<std::uint8_t>(words[i]);
        }
    }

    // After an overflow: nothing but the question (the caller sets TC).
    void drop_sections(Writer::Mark after_question) {
        w_.rewind(after_question);
        an_ = ns_ = ar_ = 0;
    }

    void set_aa(bool aa) { aa_ = aa; }

private:
    void record(std::string_view owner, std::uint16_t type, std::uint32_t ttl, std::string_view data) {
        w_.name(owner);
        w_.u16(type);
        w_.u16(rr::ClassIN);
        w_.u32(ttl);
        w_.u16(static_cast<std::uint16_t>(data.size()));
        w_.bytes(data);
        ++an_;
    }

    void rdata_record(std::string_view owner, std::uint16_t type, std::uint32_t ttl, const Rdata& r, std::uint16_t& count) {
        w_.name(owner);
        w_.u16(type);
        w_.u16(rr::ClassIN);
        w_.u32(ttl);
        const std::size_t length_at = w_.size();
        w_.u16(0);
        w_.bytes(r.fixed);
        if (!r.name1.empty()) w_.name(r.name1, {}, r.compress);
        if (!r.name2.empty()) w_.name(r.name2, {}, r.compress);
        w_.bytes(r.tail);
        if (w_.overflow()) return;
        w_.patch_u16(length_at, static_cast<std::uint16_t>(w_.size() - length_at - 2));
        ++count;
    }

    // Writes the set's records (a routed set's picked ones); returns the first record's name
    // (a CNAME's target).
    std::string_view rrset(std::string_view owner, const RRSet& set, std::uint16_t& count) {
        picked_.clear();
        if (set.routed < 0) {
            for (const auto& r : set.rdata) picked_.push_back(&r);
        } else if (pick(d_.routed[set.routed], view_.sets[set.routed], client_region(), random_, picked_)) {
            ecs_scope_ = q_.ecs.source_prefix;
        }
        for (const Rdata* r : picked_) rdata_record(owner, set.type, set.ttl, *r, count);
        return picked_.empty() ? std::string_view() : std::string_view(picked_.front()->name1);
    }

    void soa(const ZoneInfo& zone) { rdata_record(zone.apex, rr::SOA, zone.negative_ttl, zone.soa, ns_); }

    // The A and AAAA records of the names an NS, MX or SRV answer points to, while they fit.
    void additional(const RRSet& set) {
        if (set.type != rr::NS && set.type != rr::MX && set.type != rr::SRV) return;
        std::array<std::string_view, kMaxAdditionalTargets> targets;
        std::size_t n = 0;
        for (const Rdata* r : picked_) {
            if (n < targets.size() && !r->name1.empty()) targets[n++] = r->name1;
        }
        for (std::size_t i = 0; i < n; ++i) {
            const Node* node = d_.find(targets[i]);
            if (!node) continue;
            for (const auto type : {rr::A, rr::AAAA}) {
                const RRSet* glue = d_.rrset(*node, type);
                if (!glue) continue;
                const auto before = w_.mark();
                const auto count = ar_;
                rrset(node->owner, *glue, ar_);
                if (!w_.overflow()) continue;
                w_.rewind(before);
                ar_ = count;
                return;
            }
        }
    }

    void opt(Rcode rc) {
        w_.u8(0);
        w_.u16(rr::OPT);
        w_.u16(d_.options.max_udp_payload);
        const auto ext = static_cast<std::uint32_t>(static_cast<std::uint16_t>(rc) >> 4);
        w_.u32((ext << 24) | (q_.dnssec_ok ? 0x8000u : 0u));
        if (!echo_ecs()) {
            w_.u16(0);
            return;
        }
        const std::size_t bytes = ecs_bytes(q_.ecs);
        w_.u16(static_cast<std::uint16_t>(8 + bytes));
        w_.u16(kEcsOption);
        w_.u16(static_cast<std::uint16_t>(4 + bytes));
        w_.u16(q_.ecs.family);
        w_.u8(q_.ecs.source_prefix);
        w_.u8(ecs_scope_);
        w_.bytes(std::string_view(reinterpret_cast<const char*>(q_.ecs.address.data()), bytes));
    }

    // The client's region: from its Client Subnet when it sent one (with a prefix: 0 means "do
    // not use my address"), else from the packet's source address.
    RegionMatch client_region() {
        if (echo_ecs() && q_.ecs.source_prefix > 0) return d_.region_of(q_.ecs.family == 2, q_.ecs.address.data());
        return d_.region_of(client_.v6, client_.bytes.data());
    }

    const ZoneData& d_;
    const HealthView& view_;
    const Query& q_;
    const ClientAddress& client_;
    Random& random_;
    std::vector<const Rdata*>& picked_;
    Writer& w_;
    std::uint16_t qd_ = 0, an_ = 0, ns_ = 0, ar_ = 0;
    std::uint8_t ecs_scope_ = 0;
    bool aa_ = false;
};

std::size_t udp_limit(const Query& q, const ServerOptions& o) {
    if (!q.edns) return 512;
    return std::clamp<std::size_t>(q.udp_payload, 512, o.max_udp_payload);
}

Rcode status_rcode(ParseStatus s) {
    switch (s) {
    case ParseStatus::NotImp: return Rcode::NotImp;
    case ParseStatus::BadVers: return Rcode::BadVers;
    default: return Rcode::FormErr;
    }
}

} // namespace

std::size_t Responder::answer(const Snapshot& snapshot, std::span<const std::uint8_t> packet, const ClientAddress& client,
                              Transport transport, std::span<std::uint8_t> out, Outcome& outcome) {
    outcome = Outcome{};
    const ParseStatus status = parse_query(packet, query_);
    if (status == ParseStatus::Drop) return 0;
    outcome.responded = true;
    outcome.edns = query_.edns;
    outcome.qtype = query_.qtype;
    // An OPT record that broke the rules is not echoed: it was not understood.
    if (status == ParseStatus::FormErr) query_.edns = false;
    const std::size_t limit =
        std::min(out.size(), transport == Transport::Tcp ? kTcpMax : udp_limit(query_, snapshot.data->options));
    Writer w(out.data(), limit);
    Response r(snapshot, query_, client, random_, picked_, w);
    w.set_limit(limit - std::min(limit, r.opt_size()));
    r.question();
    const auto after_question = w.mark();
    Rcode rc = status == ParseStatus::Ok ? r.resolve(outcome) : status_rcode(status);
    outcome.truncated = w.overflow();
    if (outcome.truncated) r.drop_sections(after_question);
    if (rc == Rcode::Refused) r.set_aa(false);
    r.finish(limit, rc, outcome.truncated, out.data());
    outcome.rcode = rc;
    return w.overflow() ? 0 : w.size();
}

std::size_t Responder::truncated(const Snapshot& snapshot, std::span<const std::uint8_t> packet, std::span<std::uint8_t> out) {
    if (parse_query(packet, query_) != ParseStatus::Ok) return 0;
    const std::size_t limit = std::min(out.size(), udp_limit(query_, snapshot.data->options));
    Writer w(out.data(), limit);
    Response r(snapshot, query_, ClientAddress{}, random_, picked_, w);
    w.set_limit(limit - std::min(limit, r.opt_size()));
    r.question();
    r.finish(limit, Rcode::NoError, true, out.data());
    return w.overflow() ? 0 : w.size();
}

} // namespace haven::dns
