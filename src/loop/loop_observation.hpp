// LoopObservation: what an observer of a loop (the Prometheus metrics, the
// CLI's live view) reads from it at one moment, beyond stats(): the counters
// and histograms of each replica, the newest result's stamps, the serving
// model and the loop's identity. LoopAccess::observe() (loop_access.hpp) is
// the one way to get it.
//
// Observing costs the observer, never the loop: it reads the per-thread
// counters the loop keeps anyway (relaxed loads), the Clock, and the newest
// result with latest()'s wait-free read (into a buffer it allocates: max_rows
// x num_outputs floats). Nothing is added to the hot path.
//
// Threads: observe() from any thread, any time (before start() it reports
// the config and zero counters). The pointers in `replicas` stay valid as
// long as the loop object exists (start() builds the counters once; they die
// with the loop); read them with their own relaxed accessors.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "inferloop/clock.hpp"
#include "inferloop/config.hpp"
#include "inferloop/inference_loop.hpp"
#include "inferloop/stats.hpp"
#include "loop/delivery.hpp"
#include "loop/loop_counters.hpp"

namespace inferloop::detail {

struct LoopObservation {
  const InferenceConfig* config = nullptr;  // the loop's own; never null
  // Where the loop serves /metrics; empty when it does not (or no longer).
  std::string metrics_url;
  bool running = false;
  LoopStats stats;  // as stats() returns it
  // Index = replica id (backtest mode: the simulated replicas); empty before start().
  std::vector<const ReplicaCounters*> replicas;
  std::optional<ModelInfo> model;      // the serving model; none before start()
  std::optional<NewestResult> newest;  // none until a first result is visible
  Timestamp now{0};                    // the loop Clock's time when observed
};

}  // namespace inferloop::detail
