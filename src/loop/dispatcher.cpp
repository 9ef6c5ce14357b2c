// Dispatcher: see dispatcher.hpp.
#include "loop/dispatcher.hpp"

#include <algorithm>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include <boost/asio/steady_timer.hpp>

#include "loop/callback_scope.hpp"
#include "loop/thread_name.hpp"

namespace inferloop::detail {
namespace {

// How a replica's thread waits for work: the poller's trade-off, minus the
// poller-only modes.
WaitStrategy replica_wait_strategy(WaitStrategy poller) {
  switch (poller) {
    case WaitStrategy::kSpin:
      return WaitStrategy::kSpin;
    case WaitStrategy::kBlock:
      return WaitStrategy::kBlock;
    default:
      return WaitStrategy::kSpinThenBlock;
  }
}

}  // namespace

Dispatcher::Dispatcher(const void* loop, const InferenceConfig& config, FeatureSlot& slot,
                       FeatureSource source, std::vector<std::unique_ptr<Replica>>& replicas,
                       ModelReloader& reloader, DispatchCounters& counters,
                       const PredictionSinks& sinks)
    : loop_(loop),
      config_(config),
      slot_(slot),
      source_(std::move(source)),
      replicas_(replicas),
      reloader_(reloader),
      counters_(counters),
      sinks_(sinks),
      inline_replica_(replicas.size() == 1),
      round_robin_(replicas.size()) {
  if (source_) {
    source_scratch_.assign(config_.max_rows * slot_.cols(), 0.0F);
    source_pending_.assign(config_.max_rows * slot_.cols(), 0.0F);
  }
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  if (!inline_replica_) {
    const WaitStrategy strategy = replica_wait_strategy(config_.wait_strategy);
    const std::vector<int>& cpus = config_.replica_cpus;
    for (auto& replica : replicas_) {
      const int cpu = cpus.empty() ? -1 : cpus[replica->id() % cpus.size()];
      replica->start_thread(strategy, config_.spin_duration, sinks_, cpu);
    }
  }
  if (config_.wait_strategy == WaitStrategy::kInterval) {
    io_ = std::make_unique<boost::asio::io_context>(1);
  }
  poller_ = std::thread([this] {
    name_this_thread("inferloop-poll");
    poller_main();
  });
  if (config_.poller_cpu >= 0) pin_thread(poller_, config_.poller_cpu, "poller_cpu");
}

void Dispatcher::request_stop() noexcept {
  stopping_.store(true, std::memory_order_seq_cst);
  sinks_.poller_wake.notify();
}

void Dispatcher::stop() noexcept {
  if (stopped_) return;
  stopped_ = true;
  request_stop();
  if (io_) io_->stop();
  if (poller_.joinable()) poller_.join();
  // The poller is gone, so nothing is handed over any more: each replica
  // finishes and delivers what it runs, then its thread ends.
  for (auto& replica : replicas_) replica->stop_thread();
}

void Dispatcher::poller_main() {
  switch (config_.wait_strategy) {
    case WaitStrategy::kInterval:
      run_interval_poller();
      break;
    case WaitStrategy::kContinuous:
      if (source_) {
        run_continuous_source_poller();
        break;
      }
      [[fallthrough]];
    default:
      run_event_poller();
      break;
  }
}

std::uint64_t Dispatcher::completions() const noexcept {
  std::uint64_t total = 0;
  for (const auto& replica : replicas_) total += replica->completions();
  return total;
}

// spin / spin_then_block / block (and continuous without a source): wait for
// a publish or a replica going idle, then dispatch the newest snapshot.
void Dispatcher::run_event_poller() {
  const WaitStrategy strategy = config_.wait_strategy == WaitStrategy::kContinuous
                                    ? WaitStrategy::kSpinThenBlock
                                    : config_.wait_strategy;
  while (!stopping()) {
    // Read before trying to dispatch: a replica that frees up after this
    // read wakes the wait below, so none is missed.
    const std::uint64_t seen = completions();
    take_from_slot();
    if (has_pending_ && dispatch_pending()) continue;
    // Nothing to do until a publish, a replica freeing up (when a snapshot
    // waits for one) or a stop.
    wait_until(
        sinks_.poller_wake,
        [&] {
          return slot_.has_fresh() || stopping() || (has_pending_ && completions() != seen);
        },
        strategy, config_.spin_duration);
  }
}

// interval: a Boost.Asio steady_timer ticks every `interval`; each tick takes
// the newest snapshot (or asks the source) and dispatches it if a replica is
// idle, else keeps it pending for the next tick.
void Dispatcher::run_interval_poller() {
  boost::asio::steady_timer timer(*io_);
  auto deadline = std::chrono::steady_clock::now() + config_.interval;
  std::function<void(const boost::system::error_code&)> tick =
      [&](const boost::system::error_code& ec) {
        if (ec || stopping()) return;
        if (source_) {
          pull_from_source();
        } else {
          take_from_slot();
        }
        if (has_pending_) dispatch_pending();
        // Drift-free schedule; after a stall, skip the missed ticks rather than burst.
        deadline += config_.interval;
        const auto now = std::chrono::steady_clock::now();
        if (deadline < now) deadline = now + config_.interval;
        timer.expires_at(deadline);
        timer.async_wait(tick);
      };
  timer.expires_at(deadline);
  timer.async_wait(tick);
  io_->run();
}

// continuous with a source: the reference design's loop. Whenever a replica
// is idle, ask the source for features and dispatch them.
void Dispatcher::run_continuous_source_poller() {
  while (!stopping()) {
    const std::uint64_t seen = completions();  // before the check: see run_event_poller()
    const bool any_idle = std::any_of(replicas_.begin(), replicas_.end(),
                                      [](const auto& replica) { return replica->idle(); });
    if (!inline_replica_ && !any_idle) {
      wait_until(
          sinks_.poller_wake, [&] { return stopping() || completions() != seen; },
          WaitStrategy::kSpinThenBlock, config_.spin_duration);
      continue;
    }
    if (pull_from_source()) {
      dispatch_pending();
    } else {
      std::this_thread::yield();
    }
  }
}

// Takes the newest snapshot from the slot into pending_, counting every
// snapshot that will now never be dispatched.
void Dispatcher::take_from_slot() noexcept {
  FeatureSnapshot snapshot;
  if (!slot_.take_newest(snapshot)) return;
  // Snapshots overwritten in the slot before the poller saw them, plus a
  // pending one this snapshot replaces.
  std::uint64_t lost = snapshot.feature_seq - last_taken_seq_ - 1;
  if (has_pending_) ++lost;
  if (lost > 0) counters_.conflated.add(lost);
  last_taken_seq_ = snapshot.feature_seq;
  pending_ = snapshot;
  has_pending_ = true;
}

// Asks the feature source for a snapshot; true if it gave one.
bool Dispatcher::pull_from_source() noexcept {
  FeatureRequest request;
  request.values = std::span<float>(source_scratch_);
  request.cols = slot_.cols();
  request.rows = 1;
  request.feature_time = sinks_.clock.now();
  bool produced = false;
  try {
    CallbackScope scope(loop_);
    produced = source_(request);
  } catch (const std::exception& e) {
    counters_.source_errors.add();
    sinks_.errors.report({std::string("feature source threw: ") + e.what(), 0, 0, sinks_.clock.now()});
    return false;
  } catch (...) {
    counters_.source_errors.add();
    sinks_.errors.report({"feature source threw a non-standard exception", 0, 0, sinks_.clock.now()});
    return false;
  }
  if (!produced) return false;
  if (request.rows == 0 || request.rows > config_.max_rows) {
    counters_.source_errors.add();
    sinks_.errors.report({"feature source reported " + std::to_string(request.rows) +
                              " rows; it must write 1.." + std::to_string(config_.max_rows) +
                              " rows (max_rows)",
                          0, 0, sinks_.clock.now()});
    return false;
  }
  counters_.source_snapshots.add();
  if (has_pending_) counters_.conflated.add();
  // The source wrote into scratch; a call that returned false or threw may
  // have left half a snapshot there, so only a complete one becomes pending.
  std::swap(source_scratch_, source_pending_);
  pending_.values = std::span<const float>(source_pending_.data(), request.rows * slot_.cols());
  pending_.rows = request.rows;
  pending_.cols = slot_.cols();
  pending_.feature_seq = counters_.source_snapshots.value();
  pending_.feature_time = request.feature_time;
  pending_.published_at = sinks_.clock.now();
  has_pending_ = true;
  return true;
}

bool Dispatcher::dispatch_pending() noexcept {
  if (reloader_.has_staged()) {
    generation_ = reloader_.adopt_staged();
    serving_version_ = generation_->model_version;
  }
  const SnapshotMeta meta{pending_.rows, pending_.feature_seq, pending_.feature_time,
                          pending_.published_at};
  if (inline_replica_) {
    Replica& replica = *replicas_.front();
    if (replica.model_version() != serving_version_) switch_to_serving_model(replica);
    has_pending_ = false;
    counters_.dispatched.add();
    replica.run_inline(pending_.values, meta, sinks_);
    return true;
  }
  auto is_idle = [&](std::size_t index) { return replicas_[index]->idle(); };
  const std::optional<std::size_t> chosen = round_robin_.next_idle(is_idle);
  if (!chosen) return false;
  Replica& replica = *replicas_[*chosen];
  if (replica.model_version() != serving_version_) switch_to_serving_model(replica);
  has_pending_ = false;
  counters_.dispatched.add();
  replica.hand_over(pending_.values, meta);
  if (config_.wait_strategy != WaitStrategy::kBlock && primed_replica_ == *chosen) {
    // Its thread was spinning for this job: it claims it at once if it has
    // a core.
    run_if_unclaimed(replica);
  } else {
    // Give this core away once: where the replica shares it with the
    // poller, it runs now instead of at the end of a time slice; where it
    // has a core of its own, this returns at once.
    std::this_thread::yield();
  }
  // The replica the next snapshot will go to waits spinning for it (primed
  // after the claim: waking a sleeping replica is a system call, which
  // would delay the claim's wait).
  primed_replica_ = kNoReplica;
  if (const std::optional<std::size_t> next = round_robin_.peek_idle(is_idle)) {
    replicas_[*next]->prime();
    primed_replica_ = *next;
  }
  return true;
}

// The replica's thread claims the job within kClaimWindow where it has a
// core; where it has none (the engine's thread or another spinning thread
// holds it), the poller runs the job now rather than leave it for the end of
// a time slice.
void Dispatcher::run_if_unclaimed(Replica& replica) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + kClaimWindow;
  while (!replica.claimed()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      replica.run_unclaimed_here(sinks_);
      return;
    }
    cpu_relax();
  }
}

// The replica is idle, so the poller owns its predictor.
void Dispatcher::switch_to_serving_model(Replica& replica) noexcept {
  reloader_.retire(replica.switch_model(std::move(generation_->predictors[replica.id()]),
                                        serving_version_));
}

}  // namespace inferloop::detail
