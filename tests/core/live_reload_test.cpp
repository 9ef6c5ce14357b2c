// Live reload: InferenceLoop::reload() and model_refresh_interval, driven by
// a resolver the test controls and a predictor whose output names its model,
// so every result can be checked against the model_version it carries.
//
// VersionedPredictor: out[row][k] = sum(row) + 1000 * marker + k, where
// marker is the registry version the resolver handed out (1, 2, ...). A
// result with model_version v must carry the marker of the model the loop
// swapped in as v.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fake_predictor.hpp"
#include "inferloop/error.hpp"
#include "inferloop/inference_loop.hpp"
#include "stress.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;
using testing::Gate;

constexpr auto kWait = 10s;  // generous: only a broken loop ever hits it
constexpr std::size_t kFeatures = 3;

class VersionedPredictor final : public Predictor {
 public:
  VersionedPredictor(int marker, std::size_t features, Gate* gate, std::atomic<int>* entered)
      : marker_(marker), features_(features), gate_(gate), entered_(entered) {}
  std::size_t num_features() const noexcept override { return features_; }
  std::size_t num_outputs() const noexcept override { return 1; }
  std::string describe() const override { return "VersionedPredictor(" + std::to_string(marker_) + ")"; }
  void warm_up() override {}
  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    entered_->fetch_add(1);
    if (gate_ != nullptr) gate_->pass();
    for (std::size_t r = 0; r < rows; ++r) {
      float sum = 0.0F;
      for (std::size_t c = 0; c < features_; ++c) sum += features[r * features_ + c];
      out[r] = sum + 1000.0F * static_cast<float>(marker_);
    }
  }

 private:
  int marker_;
  std::size_t features_;
  Gate* gate_;
  std::atomic<int>* entered_;
};

// The "registry": which version model_uri names now, which versions are
// corrupt, and how wide each version's model is.
struct Registry {
  std::mutex mutex;
  int current = 1;
  std::map<int, std::size_t> width;  // default kFeatures
  std::vector<int> corrupt;
  Gate* gate = nullptr;
  std::atomic<int> resolves{0};
  std::atomic<int> entered{0};  // predict() calls started, any model

  void point_at(int version) {
    std::lock_guard lock(mutex);
    current = version;
  }
  ResolvedModel resolve(const std::string& uri) {
    resolves.fetch_add(1);
    std::lock_guard lock(mutex);
    ResolvedModel model;
    model.uri = uri;
    model.registry_name = "m";
    model.registry_version = std::to_string(current);
    return model;
  }
  std::unique_ptr<Predictor> create(const PredictorContext& context) {
    const int marker = std::stoi(context.model.registry_version);
    std::lock_guard lock(mutex);
    if (std::find(corrupt.begin(), corrupt.end(), marker) != corrupt.end()) {
      throw Error("model version " + std::to_string(marker) + " is corrupt");
    }
    const auto found = width.find(marker);
    return std::make_unique<VersionedPredictor>(marker, found == width.end() ? kFeatures : found->second,
                                                gate, &entered);
  }
};

struct Fixture {
  explicit Fixture(int replicas, LoopOptions extra = {}) {
    predictors.add("VersionedPredictor",
                   [this](const PredictorContext& context) { return registry.create(context); });
    InferenceConfig config;
    config.model_uri = "custom://m";
    config.predictor_class_name = "VersionedPredictor";
    config.num_replicas = replicas;
    config.startup_timeout = 5s;
    config.model_refresh_interval = refresh;
    extra.registry = &predictors;
    extra.resolver = [this](const std::string& uri) { return registry.resolve(uri); };
    extra.on_error = [this](const LoopError& error) {
      std::lock_guard lock(mutex);
      errors.push_back(error.message);
    };
    loop_config = config;
    options = std::move(extra);
  }
  void start() {
    loop = std::make_unique<InferenceLoop>(loop_config, options);
    loop->start();
  }
  std::uint64_t publish(float value) {
    const std::vector<float> row(kFeatures, value);
    return loop->features().publish(row, Timestamp{0});
  }
  // The marker a result of `value`-filled features carries.
  static int marker_of(const Prediction& p, float value) {
    return static_cast<int>((p.value(0, 0) - kFeatures * value) / 1000.0F + 0.5F);
  }

  std::chrono::nanoseconds refresh{0};
  Registry registry;
  PredictorRegistry predictors;
  InferenceConfig loop_config;
  LoopOptions options;
  std::mutex mutex;
  std::vector<std::string> errors;
  std::unique_ptr<InferenceLoop> loop;
};

TEST(LiveReload, EverySnapshotIsAnsweredOnceAndVersionsNeverGoBackwards) {
  // Lossless publishing (publish, wait for its result) from one thread while
  // another thread swaps models twice: each snapshot gets exactly one result,
  // made by the model its model_version names.
  Fixture f(3);
  struct Seen {
    std::uint64_t feature_seq;
    std::uint64_t model_version;
    int marker;
  };
  std::vector<Seen> seen;
  f.options.on_result = [&](const Prediction& p) {
    seen.push_back({p.feature_seq, p.model_version, Fixture::marker_of(p, static_cast<float>(p.feature_seq % 1000))});
  };
  f.start();
  const std::uint64_t total = 3000 / testing::kStressScale;
  // Reload k (k = 1, 2) starts once a k-th third of the snapshots is
  // answered and runs while publishing goes on; the publisher waits for it
  // only one third later, so each model serves some snapshots whatever the
  // scheduling (a reload that has not finished by then is waited for, not
  // assumed).
  std::atomic<std::uint64_t> progress{0};
  std::atomic<int> reloads_done{0};
  auto wait_until = [](const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!condition() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    return condition();
  };
  std::thread reloader([&] {
    for (int version = 2; version <= 3; ++version) {
      const std::uint64_t start_at = total * static_cast<std::uint64_t>(version - 1) / 3;
      ASSERT_TRUE(wait_until([&] { return progress.load() >= start_at; }));
      f.registry.point_at(version);
      const auto outcome = f.loop->reload();
      EXPECT_TRUE(outcome.swapped);
      EXPECT_EQ(outcome.model_version, static_cast<std::uint64_t>(version));
      EXPECT_EQ(outcome.registry_version, std::to_string(version));
      reloads_done.store(version - 1);
    }
  });
  for (std::uint64_t seq = 1; seq <= total; ++seq) {
    for (int reload = 1; reload <= 2; ++reload) {
      if (seq == total * static_cast<std::uint64_t>(reload + 1) / 3) {
        ASSERT_TRUE(wait_until([&] { return reloads_done.load() >= reload; }))
            << "reload " << reload << " did not finish";
      }
    }
    ASSERT_EQ(f.publish(static_cast<float>(seq % 1000)), seq);
    ASSERT_TRUE(f.loop->wait_for(seq, kWait)) << "snapshot " << seq;
    progress.store(seq);
  }
  reloader.join();
  f.loop->stop();

  ASSERT_EQ(seen.size(), total);
  std::uint64_t previous_version = 1;
  std::map<std::uint64_t, std::uint64_t> per_version;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].feature_seq, i + 1);
    EXPECT_GE(seen[i].model_version, previous_version) << "at feature_seq " << seen[i].feature_seq;
    // The loop's model_version v was registry version v here.
    EXPECT_EQ(seen[i].marker, static_cast<int>(seen[i].model_version)) << "at " << seen[i].feature_seq;
    previous_version = seen[i].model_version;
    ++per_version[seen[i].model_version];
  }
  EXPECT_EQ(per_version.size(), 3U);
  const auto stats = f.loop->stats();
  EXPECT_EQ(stats.model_swaps, 2U);
  EXPECT_EQ(stats.model_reload_failures, 0U);
  EXPECT_EQ(stats.dispatched, total);
  EXPECT_EQ(stats.conflated, 0U);
  EXPECT_EQ(stats.stale_results, 0U);
  EXPECT_EQ(f.loop->model_info().model_version, 3U);
  EXPECT_EQ(f.loop->model_info().model.registry_version, "3");
}

TEST(LiveReload, UnderConflationLatestNeverShowsAnOlderModel) {
  // Publishing as fast as possible with four replicas: results are conflated
  // and arrive out of order, yet what readers see moves forward in both
  // feature_seq and model_version, and every value matches its model.
  Fixture f(4);
  f.start();
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> bad{0};
  std::atomic<std::uint64_t> reads{0};
  std::thread reader([&] {
    Prediction p = f.loop->make_prediction();
    std::uint64_t last_seq = 0;
    std::uint64_t last_version = 0;
    while (!done.load(std::memory_order_acquire)) {
      if (!f.loop->latest(p)) continue;
      reads.fetch_add(1, std::memory_order_relaxed);
      if (p.feature_seq < last_seq || p.model_version < last_version) bad.fetch_add(1);
      if (Fixture::marker_of(p, static_cast<float>(p.feature_seq % 1000)) != static_cast<int>(p.model_version)) {
        bad.fetch_add(1);
      }
      last_seq = p.feature_seq;
      last_version = p.model_version;
    }
  });
  const std::uint64_t total = 200'000 / testing::kStressScale;
  for (std::uint64_t seq = 1; seq <= total; ++seq) {
    if (seq == total / 4 || seq == total / 2 || seq == 3 * total / 4) {
      f.registry.point_at(static_cast<int>(seq * 4 / total) + 1);
      ASSERT_TRUE(f.loop->reload().swapped);
    }
    ASSERT_EQ(f.publish(static_cast<float>(seq % 1000)), seq);
  }
  ASSERT_TRUE(f.loop->wait_for(total, kWait));
  Prediction last = f.loop->make_prediction();
  ASSERT_TRUE(f.loop->latest(last));
  f.loop->stop();
  done.store(true, std::memory_order_release);
  reader.join();

  EXPECT_EQ(bad.load(), 0U);
  EXPECT_GT(reads.load(), 0U);
  EXPECT_EQ(last.model_version, 4U);
  EXPECT_EQ(Fixture::marker_of(last, static_cast<float>(total % 1000)), 4);
  const auto stats = f.loop->stats();
  EXPECT_EQ(stats.model_swaps, 3U);
  EXPECT_EQ(stats.dispatched + stats.conflated + stats.discarded_at_stop, total);
  EXPECT_EQ(stats.dispatched, stats.predictions);
  EXPECT_EQ(stats.errors, 0U);
}

TEST(LiveReload, ABusyReplicaFinishesItsSnapshotWithTheOldModel) {
  Fixture f(1);
  Gate gate;
  f.registry.gate = &gate;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;  // feature_seq, model_version
  f.options.on_result = [&](const Prediction& p) { seen.emplace_back(p.feature_seq, p.model_version); };
  f.start();
  gate.close();
  ASSERT_EQ(f.publish(1.0F), 1U);
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (f.registry.entered.load() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(f.registry.entered.load(), 1);  // the replica is now held inside predict()
  f.registry.point_at(2);
  // The new predictors share the gate, but are only built and warmed here.
  const auto outcome = f.loop->reload();
  EXPECT_TRUE(outcome.swapped);
  EXPECT_EQ(outcome.detail, "registry version 1 -> 2");
  ASSERT_EQ(f.publish(2.0F), 2U);  // pending: the only replica is busy
  gate.open();
  Prediction p = f.loop->make_prediction();
  ASSERT_TRUE(f.loop->wait_for(2, kWait, &p));
  EXPECT_EQ(p.feature_seq, 2U);
  EXPECT_EQ(p.model_version, 2U);
  EXPECT_EQ(Fixture::marker_of(p, 2.0F), 2);
  f.loop->stop();
  using Seen = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
  EXPECT_EQ(seen, (Seen{{1, 1}, {2, 2}}));
  EXPECT_EQ(f.loop->stats().conflated, 0U);
}

TEST(LiveReload, AFailedReloadKeepsTheOldModelServingAndIsRetried) {
  Fixture f(2);
  f.registry.corrupt = {2};
  f.start();
  f.registry.point_at(2);
  try {
    (void)f.loop->reload();
    FAIL() << "reload of a corrupt model succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("still serving model_version 1 (registry version 1)"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("model version 2 is corrupt"), std::string::npos) << e.what();
  }
  Prediction p = f.loop->make_prediction();
  ASSERT_TRUE(f.loop->wait_for(f.publish(5.0F), kWait, &p));
  EXPECT_EQ(p.model_version, 1U);
  EXPECT_EQ(Fixture::marker_of(p, 5.0F), 1);
  EXPECT_EQ(f.loop->stats().model_reload_failures, 1U);
  EXPECT_EQ(f.loop->model_info().model.registry_version, "1");
  {
    std::lock_guard lock(f.mutex);
    ASSERT_EQ(f.errors.size(), 1U);
    EXPECT_NE(f.errors[0].find("reload of 'custom://m' failed"), std::string::npos) << f.errors[0];
  }
  // Fixed upstream: the next attempt swaps.
  f.registry.point_at(3);
  const auto outcome = f.loop->reload();
  EXPECT_TRUE(outcome.swapped);
  EXPECT_EQ(outcome.model_version, 2U);
  ASSERT_TRUE(f.loop->wait_for(f.publish(6.0F), kWait, &p));
  EXPECT_EQ(p.model_version, 2U);
  EXPECT_EQ(Fixture::marker_of(p, 6.0F), 3);
}

TEST(LiveReload, ANewModelOfAnotherWidthIsRefused) {
  Fixture f(1);
  f.registry.width[2] = kFeatures + 1;
  f.start();
  f.registry.point_at(2);
  try {
    (void)f.loop->reload();
    FAIL() << "a model of another width was swapped in";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("takes 4 features and gives 1 output(s) per row, but this "
                                         "loop serves 3 and 1: a live reload cannot change the shape"),
              std::string::npos)
        << e.what();
  }
  Prediction p = f.loop->make_prediction();
  ASSERT_TRUE(f.loop->wait_for(f.publish(1.0F), kWait, &p));
  EXPECT_EQ(p.model_version, 1U);
}

TEST(LiveReload, ReloadingTheSameModelChangesNothing) {
  Fixture f(1);
  f.start();
  const auto outcome = f.loop->reload();
  EXPECT_FALSE(outcome.swapped);
  EXPECT_EQ(outcome.model_version, 1U);
  EXPECT_NE(outcome.detail.find("still resolves to the model serving"), std::string::npos) << outcome.detail;
  EXPECT_EQ(f.loop->stats().model_swaps, 0U);
}

TEST(LiveReload, TheRefreshTimerFindsANewModel) {
  Fixture f(2);
  f.loop_config.model_refresh_interval = 2ms;
  std::atomic<std::uint64_t> changes{0};
  f.options.on_model_change = [&](const ModelInfo& info) {
    if (info.model.registry_version == "2") changes.fetch_add(1);
  };
  f.start();
  f.registry.point_at(2);
  Prediction p = f.loop->make_prediction();
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  std::uint64_t version = 0;
  for (float value = 1.0F; std::chrono::steady_clock::now() < deadline; value += 1.0F) {
    ASSERT_TRUE(f.loop->wait_for(f.publish(value), kWait, &p));
    version = p.model_version;
    if (version == 2) {
      EXPECT_EQ(Fixture::marker_of(p, value), 2);
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(version, 2U);
  EXPECT_EQ(changes.load(), 1U);
  EXPECT_GE(f.registry.resolves.load(), 2);
  f.loop->stop();  // joins the refresh thread
  EXPECT_EQ(f.loop->stats().model_swaps, 1U);
}

TEST(LiveReload, NeedsARunningLiveLoop) {
  Fixture f(1);
  InferenceLoop idle(f.loop_config, f.options);
  EXPECT_THROW((void)idle.reload(), Error);
  f.start();
  f.loop->stop();
  EXPECT_THROW((void)f.loop->reload(), Error);
}

}  // namespace
}  // namespace inferloop
