// ModelReloader: see model_reloader.hpp.
#include "loop/model_reloader.hpp"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <functional>
#include <utility>

#include <boost/asio/steady_timer.hpp>

#include "inferloop/error.hpp"
#include "loop/callback_scope.hpp"
#include "loop/thread_name.hpp"

namespace inferloop::detail {
namespace {

// What makes two resolutions of model_uri the same model: MLflow's version
// plus the file (cache folders are content-addressed, so new content means a
// new path) and, for local files replaced in place, its size and mtime.
std::string model_identity(const ResolvedModel& model) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(model.model_file, ec);
  const auto mtime = std::filesystem::last_write_time(model.model_file, ec);
  return model.registry_version + "|" + model.model_file.string() + "|" + std::to_string(size) +
         "|" + std::to_string(mtime.time_since_epoch().count());
}

// models:/name@alias/sub at version 4 -> models:/name/4/sub: the refresh
// resolves the version it saw, even if the alias moves again meanwhile.
std::string pinned_registry_uri(const ModelUri& uri, const std::string& version) {
  std::string pinned = "models:/" + uri.name + "/" + version;
  if (!uri.path.empty()) pinned += "/" + uri.path;
  return pinned;
}

}  // namespace

ModelReloader::ModelReloader(const void* loop, const InferenceConfig& config, ModelLoader& loader,
                             ModelShape shape, std::size_t replicas, const ResolvedModel& serving,
                             std::string serving_description, ErrorSink& errors,
                             LoopCounters& counters, ModelChangeHandler on_model_change,
                             const Clock& clock)
    : loop_(loop),
      config_(config),
      loader_(loader),
      shape_(shape),
      replicas_(replicas),
      errors_(errors),
      counters_(counters),
      on_model_change_(std::move(on_model_change)),
      clock_(clock),
      serving_identity_(model_identity(serving)),
      serving_registry_version_(serving.registry_version),
      info_{1, serving, std::move(serving_description), shape.num_features, shape.num_outputs} {
  try {
    parsed_uri_ = parse_model_uri(config_.model_uri);
    uri_moving_ = parsed_uri_->moving();
  } catch (const Error&) {
    // A URI only a custom resolver understands: reload() resolves it again.
    uri_moving_ = false;
  }
}

ModelReloader::~ModelReloader() {
  std::unique_lock lock = stop();
  release_models(lock);
}

ModelInfo ModelReloader::model_info() const {
  std::lock_guard lock(info_mutex_);
  return info_;
}

InferenceLoop::ReloadOutcome ModelReloader::reload() {
  std::lock_guard lock(reload_mutex_);
  collect_retired();
  if (loader_.cancelled()) throw Error("loop.reload(): the loop is stopping");
  const std::uint64_t serving = last_model_version_;
  try {
    ResolvedModel candidate;
    if (uri_moving_ && !loader_.has_custom_resolver()) {
      if (!refresh_client_) {
        MlflowOptions mlflow = mlflow_options(config_).from_environment();
        // A refresh is retried by the next one: a server that is down must
        // not hold the refresh thread in minutes of backoff.
        mlflow.max_retries = std::min(mlflow.max_retries, 2);
        mlflow.cancel = loader_.cancel_flag();
        refresh_client_ = std::make_unique<MlflowClient>(std::move(mlflow));
      }
      const std::string version = refresh_client_->current_version(config_.model_uri);
      if (version == serving_registry_version_) {
        return {false, serving, version,
                "'" + config_.model_uri + "' still names registry version " + version};
      }
      candidate = refresh_client_->resolve(pinned_registry_uri(*parsed_uri_, version));
      candidate.uri = config_.model_uri;
    } else {
      candidate = loader_.resolve(config_.model_uri);
      if (model_identity(candidate) == serving_identity_) {
        return {false, serving, candidate.registry_version,
                "'" + config_.model_uri + "' still resolves to the model serving (" +
                    candidate.model_file.string() + ")"};
      }
    }
    ModelShape shape = shape_;
    auto generation = std::make_unique<ModelGeneration>();
    generation->predictors = loader_.build(candidate, replicas_, shape);
    generation->model_version = serving + 1;
    // Before staging: after it, the poller owns these predictors.
    const std::string description = generation->predictors.front()->describe();
    {
      // Room for what the poller retires at the switch (each replica's old
      // predictor, and a previous generation's unused ones), so that it
      // never allocates.
      std::lock_guard retired_lock(retired_mutex_);
      retired_.reserve(retired_.size() + 4 * replicas_);
    }
    // A generation staged earlier that no dispatch took yet is replaced.
    std::unique_ptr<ModelGeneration> unused(
        staged_.exchange(generation.release(), std::memory_order_acq_rel));
    last_model_version_ = serving + 1;
    const std::string detail =
        serving_registry_version_.empty() || candidate.registry_version.empty()
            ? "model file " + candidate.model_file.string()
            : "registry version " + serving_registry_version_ + " -> " + candidate.registry_version;
    serving_identity_ = model_identity(candidate);
    serving_registry_version_ = candidate.registry_version;
    counters_.model_swaps().add();
    const ModelInfo info{last_model_version_, candidate, description, shape_.num_features,
                         shape_.num_outputs};
    {
      std::lock_guard info_lock(info_mutex_);
      info_ = info;
    }
    if (on_model_change_) {
      try {
        CallbackScope scope(loop_);
        on_model_change_(info);
      } catch (...) {
        // Like the other callbacks: a throwing handler must not undo the swap.
      }
    }
    return {true, last_model_version_, candidate.registry_version, detail};
  } catch (const std::exception& e) {
    counters_.model_reload_failures().add();
    const std::string message =
        "reload of '" + config_.model_uri + "' failed; still serving model_version " +
        std::to_string(serving) +
        (serving_registry_version_.empty() ? std::string()
                                           : " (registry version " + serving_registry_version_ + ")") +
        ": " + e.what();
    errors_.report({message, 0, 0, clock_.now()});
    throw Error(message);
  }
}

void ModelReloader::start_refresh() {
  if (config_.model_refresh_interval.count() == 0) return;
  if (!uri_moving_ && !loader_.has_custom_resolver()) return;
  if (loader_.cancelled()) return;
  refresh_io_ = std::make_unique<boost::asio::io_context>(1);
  refresh_thread_ = std::thread([this] {
    name_this_thread("inferloop-mdl");
    boost::asio::steady_timer timer(*refresh_io_);
    std::function<void(const boost::system::error_code&)> tick =
        [&](const boost::system::error_code& ec) {
          if (ec || loader_.cancelled()) return;
          try {
            reload();
          } catch (...) {
            // Counted and reported by reload(); the next tick retries.
          }
          timer.expires_after(config_.model_refresh_interval);
          timer.async_wait(tick);
        };
    timer.expires_after(config_.model_refresh_interval);
    timer.async_wait(tick);
    refresh_io_->run();
  });
}

std::unique_lock<std::mutex> ModelReloader::stop() noexcept {
  loader_.cancel();
  if (refresh_io_) refresh_io_->stop();
  if (refresh_thread_.joinable()) refresh_thread_.join();
  return std::unique_lock(reload_mutex_);
}

void ModelReloader::release_models(std::unique_lock<std::mutex>& lock) noexcept {
  if (!lock.owns_lock()) return;
  delete staged_.exchange(nullptr, std::memory_order_acq_rel);
  adopted_.reset();
  std::lock_guard retired_lock(retired_mutex_);
  retired_.clear();
  lock.unlock();
}

ModelGeneration* ModelReloader::adopt_staged() noexcept {
  std::unique_ptr<ModelGeneration> next(staged_.exchange(nullptr, std::memory_order_acquire));
  if (!next) return adopted_.get();
  if (adopted_) {
    // Replicas that never got round to the previous reload skip it.
    for (auto& unused : adopted_->predictors) {
      if (unused) retire(std::move(unused));
    }
  }
  adopted_ = std::move(next);
  return adopted_.get();
}

void ModelReloader::retire(std::unique_ptr<Predictor> predictor) noexcept {
  std::lock_guard lock(retired_mutex_);
  retired_.push_back(std::move(predictor));
}

void ModelReloader::collect_retired() {
  // Outside retired_mutex_: freeing a model can take milliseconds, and the
  // poller takes that mutex to retire one.
  std::vector<std::unique_ptr<Predictor>> garbage;
  {
    std::lock_guard lock(retired_mutex_);
    garbage.reserve(retired_.capacity());
    std::swap(garbage, retired_);
  }
}

}  // namespace inferloop::detail
