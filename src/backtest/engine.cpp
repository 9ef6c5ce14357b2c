// BacktestEngine: see engine.hpp for the stages and who may call what.
//
// Ownership of a Job: the engine thread (under mutex_) fills it and submits
// it; from submit() until `done` is set a pool worker may read its features
// and write its output, and the engine thread reads neither; after it sees
// `done` (under compute_mutex_) the engine thread owns it again, delivers it
// and recycles it. compute_mutex_ orders the hand-offs both ways.
#include "backtest/engine.hpp"

#include <algorithm>
#include <exception>
#include <span>
#include <utility>

#include <boost/asio/post.hpp>

namespace inferloop::detail {
namespace {

// Results allowed to wait (computed or not) for a reader before
// on_publish() waits for the oldest: bounds memory when the engine only
// publishes and never reads.
constexpr std::size_t kMaxUndelivered = 4096;

}  // namespace

BacktestEngine::BacktestEngine(const BacktestOptions& options, std::size_t num_replicas,
                               std::vector<Predictor*> predictors, std::size_t num_features,
                               std::size_t num_outputs, std::size_t max_rows, BacktestHost& host)
    : num_features_(num_features),
      num_outputs_(num_outputs),
      max_rows_(max_rows),
      max_batch_(std::max<std::size_t>(options.max_batch_snapshots, 1)),
      host_(host),
      latency_(options.latency),
      simulator_(num_replicas, latency_.sampler(options.seed)),
      replica_jobs_(num_replicas, nullptr),
      pool_(predictors.size()) {
  slots_.resize(predictors.size());
  for (std::size_t i = 0; i < predictors.size(); ++i) {
    slots_[i].predictor = predictors[i];
    if (max_batch_ > 1) {
      slots_[i].input.reserve(max_batch_ * max_rows_ * num_features_);
      slots_[i].output.reserve(max_batch_ * max_rows_ * num_outputs_);
    }
    free_slots_.push_back(&slots_[i]);
  }
}

BacktestEngine::~BacktestEngine() {
  pool_.stop();
  pool_.join();
}

// ---- engine side (mutex_ held) ---------------------------------------------

BacktestEngine::Job* BacktestEngine::take_free_job() {
  if (free_jobs_.empty()) {
    auto job = std::make_unique<Job>();
    job->features.assign(max_rows_ * num_features_, 0.0F);
    job->output = Prediction(max_rows_ * num_outputs_);
    jobs_.push_back(std::move(job));
    return jobs_.back().get();
  }
  Job* job = free_jobs_.back();
  free_jobs_.pop_back();
  return job;
}

void BacktestEngine::recycle(Job* job) {
  job->done = false;
  job->failed = false;
  job->error.clear();
  free_jobs_.push_back(job);
}

void BacktestEngine::on_publish(const FeatureSnapshot& snapshot) noexcept {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  if (delivering_) {
    // A result callback published: the simulation is mid-step, so the
    // snapshot cannot enter it consistently. Say so rather than lose it silently.
    host_.backtest_failed({"backtest: snapshot " + std::to_string(snapshot.feature_seq) +
                               " was published from inside on_result and dropped; in backtest "
                               "mode publish from the thread that drives the backtest instead",
                           0, 0, snapshot.published_at});
    return;
  }
  try {
    Job* job = take_free_job();
    std::copy(snapshot.values.begin(), snapshot.values.end(), job->features.begin());
    job->rows = snapshot.rows;
    job->feature_time = snapshot.feature_time;
    job->sim.feature_seq = snapshot.feature_seq;
    job->sim.published_at = snapshot.published_at;
    arriving_ = job;
    simulator_.arrive(snapshot.feature_seq, snapshot.published_at, *this);
    if (arriving_ != nullptr) {
      // Not dispatched: it is the new pending snapshot (the simulator
      // reported the one it replaces as conflated).
      pending_ = arriving_;
      arriving_ = nullptr;
    }
    deliver(/*block=*/false, kMaxUndelivered);
  } catch (const std::exception& e) {
    // Not dispatched (the simulator changes nothing when it refuses one).
    if (arriving_ != nullptr) recycle(std::exchange(arriving_, nullptr));
    // Not a prediction (feature_seq 0): counted as a source error.
    host_.backtest_failed({"backtest: could not take snapshot " +
                               std::to_string(snapshot.feature_seq) + ": " + e.what(),
                           0, 0, snapshot.published_at});
  }
}

void BacktestEngine::sync(Timestamp now) noexcept {
  std::lock_guard lock(mutex_);
  if (stopped_ || delivering_) return;
  simulator_.advance(now, *this);
  deliver(/*block=*/true);
}

void BacktestEngine::stop(Timestamp now) noexcept {
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || delivering_) return;
    simulator_.advance(now, *this);
    simulator_.stop(*this);
    deliver(/*block=*/true);
    stopped_ = true;
  }
  pool_.join();
}

Timestamp BacktestEngine::idle_at(Timestamp now) const {
  std::lock_guard lock(mutex_);
  return std::max(now, simulator_.idle_at());
}

void BacktestEngine::on_dispatch(const SimJob& sim, bool arriving) {
  Job* job = arriving ? std::exchange(arriving_, nullptr) : std::exchange(pending_, nullptr);
  job->sim = sim;
  replica_jobs_[sim.replica_id] = job;
  host_.backtest_dispatched(sim);
  submit(job);
}

void BacktestEngine::on_visible(const SimJob& sim) {
  Job* job = std::exchange(replica_jobs_[sim.replica_id], nullptr);
  visible_.push_back(job);
}

void BacktestEngine::on_conflated(std::uint64_t) {
  if (pending_ != nullptr) recycle(std::exchange(pending_, nullptr));
  host_.backtest_conflated();
}

void BacktestEngine::on_discarded(std::uint64_t) {
  if (pending_ != nullptr) recycle(std::exchange(pending_, nullptr));
  host_.backtest_discarded();
}

void BacktestEngine::submit(Job* job) {
  {
    std::lock_guard lock(compute_mutex_);
    compute_queue_.push_back(job);
  }
  boost::asio::post(pool_, [this] { compute_batch(); });
}

void BacktestEngine::deliver(bool block, std::size_t keep_at_most) {
  delivering_ = true;
  while (!visible_.empty()) {
    Job* job = visible_.front();
    {
      std::unique_lock lock(compute_mutex_);
      // Waiting is forced once more than keep_at_most results queue up.
      const bool must_wait = block || visible_.size() > keep_at_most;
      if (!job->done && !must_wait) break;
      while (!job->done) {
        // Rather than wake a worker and sleep (a round trip of two context
        // switches per result when the engine reads after every publish),
        // compute queued jobs here when a predictor is free.
        if (!compute_queue_.empty() && !free_slots_.empty()) {
          ComputeSlot* slot = free_slots_.back();
          free_slots_.pop_back();
          std::vector<Job*>& batch = help_batch_;
          batch.clear();
          while (!compute_queue_.empty() && batch.size() < max_batch_) {
            batch.push_back(compute_queue_.front());
            compute_queue_.pop_front();
          }
          lock.unlock();
          predict_jobs(*slot, batch);
          lock.lock();
          for (Job* done : batch) done->done = true;
          free_slots_.push_back(slot);
          computed_.notify_all();
          continue;
        }
        computed_.wait(lock);
      }
    }
    visible_.pop_front();
    if (job->failed) {
      host_.backtest_failed({job->error, job->sim.feature_seq, job->sim.replica_id,
                             job->sim.visible_at});
    } else {
      Prediction& result = job->output;
      result.feature_seq = job->sim.feature_seq;
      result.feature_time = job->feature_time;
      result.published_at = job->sim.published_at;
      result.started_at = job->sim.started_at;
      result.completed_at = job->sim.visible_at;
      result.model_version = 1;
      result.replica_id = job->sim.replica_id;
      result.rows = static_cast<std::uint32_t>(job->rows);
      result.cols = static_cast<std::uint32_t>(num_outputs_);
      host_.backtest_result(result);
    }
    recycle(job);
  }
  delivering_ = false;
}

// ---- pool workers ----------------------------------------------------------

void BacktestEngine::compute_batch() noexcept {
  std::vector<Job*> batch;
  ComputeSlot* slot = nullptr;
  {
    std::lock_guard lock(compute_mutex_);
    // Every post() queued a job, and at most one batch per slot runs at a
    // time, so a worker that finds no free slot leaves its job to the
    // worker holding one (which loops until the queue is empty).
    if (compute_queue_.empty() || free_slots_.empty()) return;
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  while (true) {
    batch.clear();
    {
      std::lock_guard lock(compute_mutex_);
      while (!compute_queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(compute_queue_.front());
        compute_queue_.pop_front();
      }
      if (batch.empty()) {
        free_slots_.push_back(slot);
        return;
      }
    }
    predict_jobs(*slot, batch);
    {
      std::lock_guard lock(compute_mutex_);
      for (Job* job : batch) job->done = true;
    }
    computed_.notify_all();
  }
}

void BacktestEngine::predict_jobs(ComputeSlot& slot, const std::vector<Job*>& batch) noexcept {
  auto predict_one = [&](Job* job) {
    try {
      slot.predictor->predict(
          std::span<const float>(job->features.data(), job->rows * num_features_), job->rows,
          std::span<float>(job->output.storage.data(), job->rows * num_outputs_));
    } catch (const std::exception& e) {
      job->failed = true;
      job->error = e.what();
    } catch (...) {
      job->failed = true;
      job->error = "predictor threw a non-standard exception";
    }
  };
  if (batch.size() == 1) {
    predict_one(batch.front());
    return;
  }
  std::size_t rows = 0;
  slot.input.clear();
  for (Job* job : batch) {
    slot.input.insert(slot.input.end(), job->features.begin(),
                      job->features.begin() + static_cast<std::ptrdiff_t>(job->rows * num_features_));
    rows += job->rows;
  }
  slot.output.resize(rows * num_outputs_);
  try {
    slot.predictor->predict(slot.input, rows, slot.output);
  } catch (...) {
    // Which snapshot failed is unknown: predict each alone, so that the
    // error lands on the snapshot it belongs to, as it would with no batching.
    for (Job* job : batch) predict_one(job);
    return;
  }
  std::size_t offset = 0;
  for (Job* job : batch) {
    const std::size_t count = job->rows * num_outputs_;
    std::copy_n(slot.output.begin() + static_cast<std::ptrdiff_t>(offset), count,
                job->output.storage.begin());
    offset += count;
  }
}

}  // namespace inferloop::detail
