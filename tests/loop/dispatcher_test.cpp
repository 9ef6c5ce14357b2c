// Dispatcher on its own, with real replicas, delivery and counters around it:
// one replica runs inline on the poller thread; several are dispatched round-
// robin; with every replica busy only the newest snapshot waits, and the
// others are counted as conflated, exactly.
#include "loop/dispatcher.hpp"

#include <gtest/gtest.h>

#include <pthread.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_predictor.hpp"

namespace inferloop::detail {
namespace {

using namespace std::chrono_literals;
using inferloop::testing::FakeBehaviour;
using inferloop::testing::Gate;

constexpr auto kWait = 10s;

std::string thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

// The parts a loop builds around its dispatcher, wired as start() wires them.
struct DispatchFixture {
  explicit DispatchFixture(int replica_count, WaitStrategy strategy = WaitStrategy::kSpinThenBlock) {
    registry = inferloop::testing::fake_registry(behaviour);
    config = inferloop::testing::fake_config(replica_count);
    config.wait_strategy = strategy;
    const auto count = static_cast<std::size_t>(replica_count);
    counters = std::make_unique<LoopCounters>(count);
    delivery = std::make_unique<Delivery>(
        this, 2, count, 0,
        [this](const Prediction& p) {
          std::lock_guard lock(mutex);
          delivered.push_back({p.feature_seq, p.replica_id, thread_name()});
        },
        errors, counters->history_dropped());
    slot = std::make_unique<FeatureSlot>(1, 4, clock, &poller_wake);
    loader = std::make_unique<ModelLoader>(this, config, *registry, inferloop::testing::fake_model);
    const ResolvedModel model = loader->resolve(config.model_uri);
    ModelShape shape;
    auto predictors = loader->build(model, count, shape);
    for (std::uint32_t id = 0; id < count; ++id) {
      replicas.push_back(std::make_unique<Replica>(id, std::move(predictors[id]), 1, 4, 2,
                                                   counters->replica(id)));
    }
    reloader = std::make_unique<ModelReloader>(this, config, *loader, shape, count, model,
                                               "FakePredictor", errors, *counters,
                                               ModelChangeHandler{}, *clock);
    dispatcher = std::make_unique<Dispatcher>(this, config, *slot, FeatureSource{}, replicas,
                                              *reloader, counters->dispatch(),
                                              PredictionSinks{*clock, *delivery, errors, poller_wake});
  }
  ~DispatchFixture() { dispatcher->stop(); }
  std::uint64_t publish(float value) {
    const std::vector<float> row(4, value);
    return slot->publish(row, Timestamp{0});
  }

  struct Seen {
    std::uint64_t feature_seq;
    std::uint32_t replica;
    std::string thread;
  };
  FakeBehaviour behaviour;
  std::unique_ptr<PredictorRegistry> registry;
  InferenceConfig config;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(Timestamp{5});
  ErrorSink errors{this, {}};
  WakeSignal poller_wake;
  std::unique_ptr<LoopCounters> counters;
  std::unique_ptr<Delivery> delivery;
  std::unique_ptr<FeatureSlot> slot;
  std::unique_ptr<ModelLoader> loader;
  std::vector<std::unique_ptr<Replica>> replicas;
  std::unique_ptr<ModelReloader> reloader;
  std::unique_ptr<Dispatcher> dispatcher;
  std::mutex mutex;
  std::vector<Seen> delivered;
};

TEST(Dispatcher, OneReplicaPredictsOnThePollerThreadItself) {
  DispatchFixture f(1);
  f.dispatcher->start();
  for (int i = 1; i <= 5; ++i) {
    const auto seq = f.publish(static_cast<float>(i));
    ASSERT_TRUE(f.delivery->wait_for(seq, kWait, [] { return false; }));
  }
  f.dispatcher->stop();
  ASSERT_EQ(f.delivered.size(), 5U);
  for (const auto& seen : f.delivered) {
    EXPECT_EQ(seen.replica, 0U);
    EXPECT_EQ(seen.thread, "inferloop-poll");
  }
}

// `block`: the poller never runs a replica's job itself.
TEST(Dispatcher, SeveralReplicasTakeSnapshotsRoundRobinOnTheirOwnThreads) {
  DispatchFixture f(3, WaitStrategy::kBlock);
  f.dispatcher->start();
  for (int i = 1; i <= 6; ++i) {
    const auto seq = f.publish(static_cast<float>(i));
    ASSERT_TRUE(f.delivery->wait_for(seq, kWait, [] { return false; }));
  }
  f.dispatcher->stop();
  std::vector<std::uint32_t> replicas;
  for (const auto& seen : f.delivered) {
    replicas.push_back(seen.replica);
    EXPECT_EQ(seen.thread, "inferloop-r" + std::to_string(seen.replica));
  }
  EXPECT_EQ(replicas, (std::vector<std::uint32_t>{0, 1, 2, 0, 1, 2}));
}

// The spinning strategies: a job that the primed replica's thread has not
// claimed within kClaimWindow runs on the poller, as that replica (on this
// 2-core machine, with the test's thread waiting too, some do); the order
// stays round-robin and every job runs once.
TEST(Dispatcher, WithSpinningReplicasTheRoundRobinHoldsWhicheverThreadRunsAJob) {
  for (const WaitStrategy strategy : {WaitStrategy::kSpin, WaitStrategy::kSpinThenBlock}) {
    SCOPED_TRACE(std::string(to_string(strategy)));
    DispatchFixture f(2, strategy);
    f.dispatcher->start();
    constexpr int kSnapshots = 200;
    for (int i = 1; i <= kSnapshots; ++i) {
      const auto seq = f.publish(static_cast<float>(i));
      ASSERT_TRUE(f.delivery->wait_for(seq, kWait, [] { return false; }));
    }
    f.dispatcher->stop();
    ASSERT_EQ(f.delivered.size(), static_cast<std::size_t>(kSnapshots));
    std::size_t on_the_poller = 0;
    for (std::size_t i = 0; i < f.delivered.size(); ++i) {
      const auto& seen = f.delivered[i];
      EXPECT_EQ(seen.feature_seq, i + 1);
      EXPECT_EQ(seen.replica, i % 2);
      if (seen.thread == "inferloop-poll") {
        ++on_the_poller;
      } else {
        EXPECT_EQ(seen.thread, "inferloop-r" + std::to_string(seen.replica));
      }
    }
    const LoopStats stats = f.counters->snapshot(f.slot->last_published_seq(), 0);
    EXPECT_EQ(stats.dispatched, static_cast<std::uint64_t>(kSnapshots));
    EXPECT_EQ(stats.predictions, static_cast<std::uint64_t>(kSnapshots));
    EXPECT_EQ(f.behaviour.entered.load(), static_cast<std::uint64_t>(kSnapshots));
    RecordProperty(std::string(to_string(strategy)) + "_on_the_poller",
                   static_cast<int>(on_the_poller));
  }
}

TEST(Dispatcher, WithEveryReplicaBusyOnlyTheNewestWaitsAndTheRestAreConflated) {
  for (int replica_count : {1, 2}) {
    SCOPED_TRACE(std::to_string(replica_count) + " replica(s)");
    DispatchFixture f(replica_count);
    Gate gate;
    gate.close();
    f.behaviour.gate = &gate;
    f.dispatcher->start();
    // One at a time: two publishes back to back may be conflated themselves.
    for (int i = 1; i <= replica_count; ++i) {
      f.publish(static_cast<float>(i));
      while (f.behaviour.entered.load() < static_cast<std::uint64_t>(i)) std::this_thread::yield();
    }
    // Every replica is held: these ten are conflated down to the newest.
    std::uint64_t last = 0;
    for (int i = 0; i < 10; ++i) last = f.publish(100.0F + static_cast<float>(i));
    gate.open();
    ASSERT_TRUE(f.delivery->wait_for(last, kWait, [] { return false; }));
    f.dispatcher->stop();
    const LoopStats stats = f.counters->snapshot(f.slot->last_published_seq(), 0);
    EXPECT_EQ(stats.dispatched, static_cast<std::uint64_t>(replica_count) + 1);
    EXPECT_EQ(stats.conflated, 9U);
    EXPECT_EQ(stats.predictions, stats.dispatched);
  }
}

TEST(Dispatcher, StopDrainsThePredictionsInFlight) {
  DispatchFixture f(2);
  Gate gate;
  gate.close();
  f.behaviour.gate = &gate;
  f.dispatcher->start();
  f.publish(1.0F);
  while (f.behaviour.entered.load() < 1) std::this_thread::yield();
  f.publish(2.0F);
  while (f.behaviour.entered.load() < 2) std::this_thread::yield();
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.open();
  });
  f.dispatcher->stop();
  opener.join();
  EXPECT_EQ(f.counters->snapshot(2, 0).predictions, 2U);
  EXPECT_EQ(f.delivery->latest_feature_seq(), 2U);
}

}  // namespace
}  // namespace inferloop::detail
