// BacktestDriver: see backtest_driver.hpp.
#include "backtest/backtest_driver.hpp"

#include <algorithm>
#include <cassert>
#include <exception>
#include <utility>

#include "loop/thread_name.hpp"

namespace inferloop::detail {
namespace {

// Results computed but not yet visible at most, before on_publish() waits:
// bounds the memory a fast publisher can make the driver hold.
constexpr std::size_t kMaxUndelivered = 4096;

}  // namespace

BacktestDriver::BacktestDriver(const BacktestOptions& options, std::size_t num_replicas,
                               std::vector<Predictor*> predictors, std::size_t num_features,
                               std::size_t num_outputs, std::size_t max_rows, Delivery& delivery,
                               LoopCounters& counters, ErrorSink& errors)
    : num_features_(num_features),
      num_outputs_(num_outputs),
      max_rows_(max_rows),
      max_batch_(std::max<std::size_t>(1, options.max_batch_snapshots)),
      replay_batch_rows_(options.replay_batch_rows == 0 ? kReplayBatchRowsCpu
                                                        : options.replay_batch_rows),
      delivery_(delivery),
      counters_(counters),
      errors_(errors),
      latency_(options.latency),
      simulator_(num_replicas, latency_.sampler(options.seed)),
      replica_jobs_(num_replicas, nullptr) {
  auto prepare = [&](Worker& worker, Predictor* predictor) {
    worker.predictor = predictor;
    worker.batch.reserve(max_batch_);
    if (max_batch_ > 1) {
      worker.input.reserve(max_batch_ * max_rows * num_features_);
      worker.output.reserve(max_batch_ * max_rows * num_outputs_);
    }
  };
  prepare(driving_, predictors.front());
  for (std::size_t i = 1; i < predictors.size(); ++i) {
    workers_.push_back(std::make_unique<Worker>());
    prepare(*workers_.back(), predictors[i]);
  }
  for (auto& worker : workers_) {
    threads_.emplace_back([this, w = worker.get()] {
      name_this_thread("inferloop-bt");
      worker_main(*w);
    });
  }
  // Jobs are allocated up front for the common backlog: a replay then never
  // allocates per snapshot.
  const std::size_t initial_jobs = std::min<std::size_t>(
      kMaxUndelivered, 2 * max_batch_ * predictors.size() + num_replicas + 2);
  for (std::size_t i = 0; i < initial_jobs; ++i) free_jobs_.push_back(make_job());
}

BacktestDriver::~BacktestDriver() {
  {
    std::lock_guard lock(compute_mutex_);
    workers_stop_ = true;
  }
  work_ready_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

// ---- the driving side (mutex_ held) -----------------------------------------

BacktestDriver::Job* BacktestDriver::take_free_job() {
  if (free_jobs_.empty()) return make_job();
  Job* job = free_jobs_.back();
  free_jobs_.pop_back();
  return job;
}

BacktestDriver::Job* BacktestDriver::make_job() {
  // Every list a job passes through can hold every job before the job
  // exists, so routing a job (queue_, visible_, free_jobs_) never allocates:
  // a full memory surfaces here, before the simulator knows the snapshot,
  // and on_publish() reports it and drops the snapshot. A job the simulator
  // has dispatched always reaches a worker and delivery.
  const std::size_t count = jobs_.size() + 1;
  auto grown = [count](std::size_t capacity) { return std::max(count, 2 * capacity); };
  if (free_jobs_.capacity() < count) free_jobs_.reserve(grown(free_jobs_.capacity()));
  if (visible_.capacity() < count) visible_.set_capacity(grown(visible_.capacity()));
  {
    std::lock_guard lock(compute_mutex_);
    if (queue_.capacity() < count) queue_.set_capacity(grown(queue_.capacity()));
  }
  auto job = std::make_unique<Job>();
  job->features.assign(max_rows_ * num_features_, 0.0F);
  job->output = Prediction(max_rows_ * num_outputs_);
  jobs_.push_back(std::move(job));
  return jobs_.back().get();
}

void BacktestDriver::recycle(Job* job) {
  job->done = false;
  job->failed = false;
  job->error.clear();
  free_jobs_.push_back(job);
}

void BacktestDriver::on_publish(const FeatureSnapshot& snapshot) noexcept {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  if (delivering_) {
    // A result callback published: the simulation is mid-step, so the
    // snapshot cannot enter it consistently. Say so rather than lose it silently.
    counters_.dispatch().source_errors.add();
    errors_.report({"backtest: snapshot " + std::to_string(snapshot.feature_seq) +
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
    simulator_.arrive(snapshot.feature_seq, snapshot.published_at, as_listener());
    if (arriving_ != nullptr) {
      // Not dispatched: it is the new pending snapshot (the simulator
      // reported the one it replaces as conflated).
      pending_ = arriving_;
      arriving_ = nullptr;
    }
    deliver(/*block=*/false, kMaxUndelivered);
  } catch (const std::exception& e) {
    // The simulator refused the snapshot before taking it (a time past the
    // end of Timestamp): its job goes back to the pool.
    if (arriving_ != nullptr) recycle(std::exchange(arriving_, nullptr));
    // Not a prediction (feature_seq 0): counted as a source error.
    counters_.dispatch().source_errors.add();
    errors_.report({"backtest: could not take snapshot " + std::to_string(snapshot.feature_seq) +
                        ": " + e.what(),
                    0, 0, snapshot.published_at});
  }
}

void BacktestDriver::sync(Timestamp now) noexcept {
  std::lock_guard lock(mutex_);
  if (stopped_ || delivering_) return;
  simulator_.advance(now, as_listener());
  deliver(/*block=*/true);
}

void BacktestDriver::stop(Timestamp now) noexcept {
  std::lock_guard lock(mutex_);
  if (stopped_ || delivering_) return;
  simulator_.advance(now, as_listener());
  simulator_.stop(as_listener());
  deliver(/*block=*/true);
  stopped_ = true;
}

Timestamp BacktestDriver::idle_at(Timestamp now) const {
  std::lock_guard lock(mutex_);
  return std::max(now, simulator_.idle_at());
}

void BacktestDriver::count_dispatch(const SimJob& sim) {
  counters_.dispatch().dispatched.add();
  ReplicaCounters& replica = counters_.replica(sim.replica_id);
  replica.queue_wait.record(sim.started_at - sim.published_at);
  replica.predict.record(sim.visible_at - sim.started_at);
}

void BacktestDriver::on_dispatch(const SimJob& sim, bool arriving) {
  Job* job = arriving ? std::exchange(arriving_, nullptr) : std::exchange(pending_, nullptr);
  job->sim = sim;
  replica_jobs_[sim.replica_id] = job;
  count_dispatch(sim);
  submit(job);
}

void BacktestDriver::on_visible(const SimJob& sim) {
  assert(!visible_.full());  // make_job() grew it for every job
  visible_.push_back(std::exchange(replica_jobs_[sim.replica_id], nullptr));
}

void BacktestDriver::on_conflated(std::uint64_t) {
  if (pending_ != nullptr) recycle(std::exchange(pending_, nullptr));
  counters_.dispatch().conflated.add();
}

void BacktestDriver::on_discarded(std::uint64_t) {
  if (pending_ != nullptr) recycle(std::exchange(pending_, nullptr));
  counters_.dispatch().discarded_at_stop.add();
}

void BacktestDriver::submit(Job* job) {
  bool wake = false;
  {
    std::lock_guard lock(compute_mutex_);
    assert(!queue_.full());  // make_job() grew it for every job
    queue_.push_back(job);
    // A batch's worth of work, or the first job for an idle worker when
    // the batch is small: one wake-up per batch, not per snapshot.
    wake = sleeping_workers_ > 0 && queue_.size() >= max_batch_;
  }
  if (wake) work_ready_.notify_one();
}

void BacktestDriver::deliver(bool block, std::size_t keep_at_most) {
  delivering_ = true;
  while (!visible_.empty()) {
    Job* job = visible_.front();
    {
      std::unique_lock lock(compute_mutex_);
      const bool must_wait = block || visible_.size() > keep_at_most;
      if (!job->done && !must_wait) break;
      while (!job->done) {
        // Compute queued jobs here rather than sleep; sleep only when the
        // job is in a worker's hands.
        if (take_batch(driving_)) {
          lock.unlock();
          predict_batch(driving_);
          lock.lock();
          for (Job* computed : driving_.batch) computed->done = true;
          continue;
        }
        if (sleeping_workers_ > 0 && !queue_.empty()) work_ready_.notify_one();
        job_done_.wait(lock);
      }
    }
    visible_.pop_front();
    deliver_result(job->sim, job->rows, job->feature_time, job->failed, job->error, job->output);
    recycle(job);
  }
  delivering_ = false;
}

void BacktestDriver::deliver_result(const SimJob& sim, std::size_t rows, Timestamp feature_time,
                                    bool failed, const std::string& error, Prediction& result) {
  ReplicaCounters& counters = counters_.replica(sim.replica_id);
  if (failed) {
    counters.errors.add();
    errors_.report({error, sim.feature_seq, sim.replica_id, sim.visible_at});
    return;
  }
  result.feature_seq = sim.feature_seq;
  result.feature_time = feature_time;
  result.published_at = sim.published_at;
  result.started_at = sim.started_at;
  result.completed_at = sim.visible_at;
  result.model_version = 1;
  result.replica_id = sim.replica_id;
  result.rows = static_cast<std::uint32_t>(rows);
  result.cols = static_cast<std::uint32_t>(num_outputs_);
  counters.predictions.add();
  // One writer: the driving thread (serialised by mutex_).
  delivery_.deliver(0, counters, result);
}

// ---- compute ------------------------------------------------------------------------

bool BacktestDriver::take_batch(Worker& worker) {
  worker.batch.clear();
  while (!queue_.empty() && worker.batch.size() < max_batch_) {
    worker.batch.push_back(queue_.front());
    queue_.pop_front();
  }
  return !worker.batch.empty();
}

void BacktestDriver::worker_main(Worker& worker) noexcept {
  std::unique_lock lock(compute_mutex_);
  while (true) {
    if (ChunkSet* set = set_with_untaken_chunk()) {
      if (run_next_chunk(lock, *set, worker)) job_done_.notify_all();
      continue;
    }
    if (take_batch(worker)) {
      lock.unlock();
      predict_batch(worker);
      lock.lock();
      for (Job* job : worker.batch) job->done = true;
      job_done_.notify_one();
      continue;
    }
    if (workers_stop_) return;
    ++sleeping_workers_;
    work_ready_.wait(lock);
    --sleeping_workers_;
  }
}

BacktestDriver::ChunkSet* BacktestDriver::set_with_untaken_chunk() noexcept {
  for (std::size_t k = 0; k < chunk_sets_on_offer_; ++k) {
    ChunkSet& set = chunk_sets_[(first_chunk_set_ + k) % chunk_sets_.size()];
    if (set.taken < set.count) return &set;
  }
  return nullptr;
}

bool BacktestDriver::run_next_chunk(std::unique_lock<std::mutex>& lock, ChunkSet& set,
                                    Worker& worker) {
  const std::size_t chunk = set.taken++;
  const ChunkTask task = set.task;
  void* const context = set.context;
  lock.unlock();
  task(context, worker, chunk);
  lock.lock();
  return ++set.done == set.count;
}

void BacktestDriver::start_chunks(ChunkTask task, void* context, std::size_t count) {
  {
    std::lock_guard lock(compute_mutex_);
    assert(chunk_sets_on_offer_ < chunk_sets_.size());
    chunk_sets_[(first_chunk_set_ + chunk_sets_on_offer_) % chunk_sets_.size()] = {task, context,
                                                                                   count, 0, 0};
    ++chunk_sets_on_offer_;
  }
  if (count > 0 && !workers_.empty()) work_ready_.notify_all();
}

bool BacktestDriver::finish_chunks() {
  std::unique_lock lock(compute_mutex_);
  if (chunk_sets_on_offer_ == 0) return false;
  ChunkSet& oldest = chunk_sets_[first_chunk_set_];
  while (oldest.done < oldest.count) {
    ChunkSet* const set = set_with_untaken_chunk();
    if (set == nullptr) {
      // The oldest set's last chunks run on workers, and the next set's
      // (if any) are all taken: the worker that finishes a set wakes us.
      job_done_.wait(lock);
      continue;
    }
    run_next_chunk(lock, *set, driving_);
  }
  oldest = {};
  first_chunk_set_ = (first_chunk_set_ + 1) % chunk_sets_.size();
  --chunk_sets_on_offer_;
  return true;
}

void BacktestDriver::predict_batch(Worker& worker) noexcept {
  const std::vector<Job*>& batch = worker.batch;
  auto predict_one = [&](Job* job) {
    try {
      worker.predictor->predict(
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
  worker.input.clear();
  for (Job* job : batch) {
    worker.input.insert(worker.input.end(), job->features.begin(),
                        job->features.begin() + static_cast<std::ptrdiff_t>(job->rows * num_features_));
    rows += job->rows;
  }
  worker.output.resize(rows * num_outputs_);
  try {
    worker.predictor->predict(worker.input, rows, worker.output);
  } catch (...) {
    // Which snapshot failed is unknown: predict each alone, so that the
    // error lands on the snapshot it belongs to, as it would with no batching.
    for (Job* job : batch) predict_one(job);
    return;
  }
  std::size_t offset = 0;
  for (Job* job : batch) {
    const std::size_t count = job->rows * num_outputs_;
    std::copy_n(worker.output.begin() + static_cast<std::ptrdiff_t>(offset), count,
                job->output.storage.begin());
    offset += count;
  }
}

}  // namespace inferloop::detail
