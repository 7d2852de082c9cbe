// Two probes in a row (probe.hpp, make_probe_sequence): the second runs only when the first
// passed. Used for `health_check.connect`: a connect to the service's own port before a check on
// another port, so Patroni's REST API answering 200 cannot hide a PostgreSQL that refuses
// connections (docs/database-ha.md).
#include "upstream/health/probe.hpp"

#include <memory>
#include <utility>

namespace haven::upstream {
namespace {

class ProbeSequence final : public Probe {
public:
    ProbeSequence(std::unique_ptr<Probe> first, std::unique_ptr<Probe> second, std::string first_name)
        : first_(std::move(first)), second_(std::move(second)), first_name_(std::move(first_name)) {}

    void start(std::function<void(ProbeResult)> done) override {
        // A new start abandons the sequence in flight: each probe abandons its own check when
        // started again, and the token makes a late first result not start the second.
        auto token = std::make_shared<bool>(true);
        *token_ = false;
        token_ = token;
        first_->start([this, token, done = std::move(done)](ProbeResult r) mutable {
            if (!*token) return;
            if (!r.ok) {
                r.reason = first_name_ + ": " + r.reason;
                done(std::move(r));
                return;
            }
            const Duration took = r.took;
            second_->start([token, took, done = std::move(done)](ProbeResult r2) {
                if (!*token) return;
                r2.took += took;
                done(std::move(r2));
            });
        });
    }

    ~ProbeSequence() override { *token_ = false; }

private:
    std::unique_ptr<Probe> first_;
    std::unique_ptr<Probe> second_;
    std::string first_name_;
    std::shared_ptr<bool> token_ = std::make_shared<bool>(false);
};

} // namespace

std::unique_ptr<Probe> make_probe_sequence(std::unique_ptr<Probe> first, std::unique_ptr<Probe> second,
                                           std::string first_name) {
    return std::make_unique<ProbeSequence>(std::move(first), std::move(second), std::move(first_name));
}

} // namespace haven::upstream
