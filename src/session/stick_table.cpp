#include "session/stick_table.hpp"

namespace haven::session {

std::optional<StickEntry> StickTable::find(std::uint64_t key, TimePoint now_tp) {
    const std::int64_t now = now_tp.time_since_epoch().count();
    std::optional<StickEntry> out;
    lru_.find(key, [&](StickEntry& e) {
        if (e.server == 0 || e.expires <= now) return;
        e.expires = now + expire_.count();
        out = e;
    });
    return out;
}

StickTable::Put StickTable::put(std::uint64_t key, std::uint64_t server, std::int64_t stamp, TimePoint now_tp) {
    const std::int64_t now = now_tp.time_since_epoch().count();
    const auto live = [now](const StickEntry& e) { return e.server != 0 && e.expires > now; };
    return lru_.upsert(key, live, [&](StickEntry& e, bool fresh) {
        // Rules: an expired entry is as good as absent; a live one written later than `stamp`
        // wins (equal stamps: the one being written, so one instance's own order holds).
        const bool present = !fresh && live(e);
        if (present && e.stamp > stamp) return Put::Older;
        const Put result = !present ? Put::Added : (e.server == server ? Put::Refreshed : Put::Changed);
        e.server = server;
        e.stamp = stamp;
        e.expires = now + expire_.count();
        return result;
    });
}

} // namespace haven::session
