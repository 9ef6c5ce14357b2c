// The CUDA evaluator: a DeviceLayout in one GPU's memory (DeviceForest,
// shared by every replica on that GPU) and, per replica, a CudaEvaluator
// with its own stream, pinned host buffers, device buffers and CUDA Graphs.
//
// Plain C++: no CUDA header here, so ForestPredictor compiles without the
// CUDA toolkit. cuda_evaluator.cu implements it when inferloop is built
// with INFERLOOP_WITH_CUDA; otherwise cuda_unavailable.cpp does, and every
// entry point throws an inferloop::Error saying so.
//
// Lifecycle and threads: upload_forest() once per model and device, from any
// thread; the DeviceForest is immutable and freed with its last owner. A
// CudaEvaluator belongs to one replica: predict() is called by one thread at
// a time (any thread: it selects its device itself), and blocks until the
// outputs are in `out`. Kernels only read the DeviceForest, so replicas on
// one GPU predict at once, each on its own stream.
//
// Results: bit for bit those of the host reference (host_reference.hpp),
// and so of ForestModel and xgboost's CPU predictor; see device_forest.hpp.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "forest/cuda/device_layout.hpp"

namespace inferloop::detail::gpu {

class DeviceForest;  // defined by the implementation

// Whether this inferloop was built with the CUDA evaluator.
[[nodiscard]] bool built_with_cuda() noexcept;

// Copies `layout` to CUDA device `ordinal` (device: cuda:N). Throws
// inferloop::Error "device: cuda:N: ..." when there is no usable device (no
// driver, no GPU: naming the cudaError), N is past the devices present,
// the layout does not fit the device's memory, or inferloop was built
// without CUDA.
[[nodiscard]] std::shared_ptr<const DeviceForest> upload_forest(const DeviceLayout& layout,
                                                                int ordinal);

// "cuda:0 (NVIDIA H200, 132 SMs)".
[[nodiscard]] std::string describe_device(const DeviceForest& forest);

class CudaEvaluator {
 public:
  // Creates this replica's stream. `transformed`: the objective's output
  // (else margins). Throws inferloop::Error on a CUDA failure.
  CudaEvaluator(std::shared_ptr<const DeviceForest> forest, bool transformed,
                Strategy strategy = Strategy::kAuto);
  ~CudaEvaluator();
  CudaEvaluator(const CudaEvaluator&) = delete;
  CudaEvaluator& operator=(const CudaEvaluator&) = delete;

  [[nodiscard]] std::size_t num_features() const noexcept;
  [[nodiscard]] std::size_t outputs_per_row() const noexcept;

  // Predicts `rows` rows (row-major, rows x num_features(), NaN missing)
  // into `out` (rows x outputs_per_row()). Blocks until done.
  // REQUIRES: those sizes; rows >= 1.
  // NOTE: the first call for a batch size up to kGraphRows captures a CUDA
  //       Graph for it (one launch afterwards); a larger batch than any
  //       before grows the buffers. Both allocate; later calls do not.
  // Throws inferloop::Error naming the failing CUDA call and its cudaError.
  void predict(std::span<const float> features, std::size_t rows, std::span<float> out);

  // Batches up to this many rows replay a captured graph.
  static constexpr std::size_t kGraphRows = 4096;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferloop::detail::gpu
