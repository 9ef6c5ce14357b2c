// The CUDA evaluator (see cuda_evaluator.hpp): the kernels, the device copy
// of a layout and the per-replica stream, buffers and graphs.
//
// Kernels. Every thread runs the shared per-row code of device_forest.hpp:
//   predict_rows_kernel  kRowParallel: a thread per row walks every tree,
//                        summing as it goes, then transforms. A block's rows
//                        are first copied to shared memory (coalesced) when
//                        they fit. For batches that fill the GPU with rows.
//   tree_leaves_kernel   kTreeParallel: a thread per (tree, row) writes that
//   sum_leaves_kernel    tree's leaf; then a thread per row adds its leaves
//                        in tree order and transforms. For small batches: a
//                        single row still spreads over every tree.
// Both give the same bits (the host reference runs both orders in CI).
//
// Launch overhead: a batch of up to kGraphRows rows replays a CUDA Graph
// captured the first time that batch size is seen (copy in, kernels, copy
// out: one launch); larger batches are enqueued directly, where launches are
// a small part of the time. Inputs and outputs pass through pinned host
// buffers, so the copies are DMA transfers on the replica's own stream.
//
// Built without fast math; the arithmetic that decides results uses
// explicit round-to-nearest intrinsics (device_forest.hpp), and CMake adds
// -fmad=false as well (cmake/InferloopCuda.cmake).
#include "forest/cuda/cuda_evaluator.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#include "inferloop/error.hpp"

namespace inferloop::detail::gpu {
namespace {

constexpr unsigned kRowThreads = 128;   // predict_rows_kernel and sum_leaves_kernel
constexpr unsigned kTreeThreads = 256;  // tree_leaves_kernel
// Rows per block staged in shared memory: at most 48 KiB, the default limit.
constexpr std::size_t kStagedBytes = 48 * 1024;
// Leaves held at once by kTreeParallel (trees x rows of a chunk): 128 MiB.
constexpr std::size_t kLeafScratchFloats = std::size_t{1} << 25;
// Captured graphs kept per replica; past this the cache starts over.
constexpr std::size_t kMaxGraphs = 64;

std::string error_text(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")";
}

std::string device_name(int ordinal) { return "device: cuda:" + std::to_string(ordinal); }

void check(cudaError_t status, const char* call, int ordinal) {
  if (status != cudaSuccess) {
    throw Error(device_name(ordinal) + ": " + call + " failed: " + error_text(status));
  }
}

// ---- kernels ------------------------------------------------------------------

__global__ void predict_rows_kernel(ForestView forest, const float* features, std::size_t rows,
                                    bool staged, bool transformed, float* margins_apart,
                                    float* out) {
  extern __shared__ float staged_rows[];
  const std::size_t width = forest.num_features;
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * blockDim.x;
  const std::size_t row = first + threadIdx.x;
  const float* features_of_row = features + row * width;
  if (staged) {
    const std::size_t block_rows = rows - first < blockDim.x ? rows - first : blockDim.x;
    const std::size_t count = block_rows * width;
    for (std::size_t i = threadIdx.x; i < count; i += blockDim.x) {
      staged_rows[i] = features[first * width + i];
    }
    __syncthreads();
    features_of_row = staged_rows + threadIdx.x * width;
  }
  if (row >= rows) return;
  const std::uint32_t per_row = outputs_per_row(forest, transformed);
  float* out_row = out + row * per_row;
  float* margins = margins_apart != nullptr ? margins_apart + row * forest.num_groups : out_row;
  sum_leaves_in_tree_order(
      forest, [&](std::uint32_t tree) { return tree_leaf(forest, tree, features_of_row); },
      margins);
  if (transformed) transform_row(forest, margins, out_row);
}

// Block b covers tree tile (b % tree_tiles) and row tile (b / tree_tiles);
// within a block, consecutive threads take consecutive rows of a tile of
// `tile_rows` (a power of two, at most 32), then the next tree.
__global__ void tree_leaves_kernel(ForestView forest, const float* features, std::size_t rows,
                                   unsigned tile_rows, unsigned tree_tiles, float* leaves) {
  const unsigned trees_per_block = blockDim.x / tile_rows;
  const std::size_t tree =
      static_cast<std::size_t>(blockIdx.x % tree_tiles) * trees_per_block + threadIdx.x / tile_rows;
  const std::size_t row =
      static_cast<std::size_t>(blockIdx.x / tree_tiles) * tile_rows + threadIdx.x % tile_rows;
  if (tree >= forest.num_trees || row >= rows) return;
  leaves[tree * rows + row] = tree_leaf(forest, static_cast<std::uint32_t>(tree),
                                        features + row * forest.num_features);
}

__global__ void sum_leaves_kernel(ForestView forest, const float* leaves, std::size_t rows,
                                  bool transformed, float* margins_apart, float* out) {
  const std::size_t row = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= rows) return;
  const std::uint32_t per_row = outputs_per_row(forest, transformed);
  float* out_row = out + row * per_row;
  float* margins = margins_apart != nullptr ? margins_apart + row * forest.num_groups : out_row;
  sum_leaves_in_tree_order(
      forest, [&](std::uint32_t tree) { return leaves[tree * rows + row]; }, margins);
  if (transformed) transform_row(forest, margins, out_row);
}

unsigned blocks_for(std::size_t items, unsigned per_block) {
  return static_cast<unsigned>((items + per_block - 1) / per_block);
}

// ---- device memory ------------------------------------------------------------

template <class T>
struct DeviceArray {
  T* data = nullptr;
  std::size_t capacity = 0;  // elements
};

template <class T>
void free_array(DeviceArray<T>& array, bool pinned) noexcept {
  if (array.data != nullptr) {
    if (pinned) {
      cudaFreeHost(array.data);
    } else {
      cudaFree(array.data);
    }
  }
  array = {};
}

// Grows `array` to at least `count` elements (contents not kept).
template <class T>
void reserve_array(DeviceArray<T>& array, std::size_t count, bool pinned, int ordinal) {
  if (array.capacity >= count) return;
  free_array(array, pinned);
  void* memory = nullptr;
  const std::size_t bytes = std::max<std::size_t>(count, 1) * sizeof(T);
  if (pinned) {
    check(cudaHostAlloc(&memory, bytes, cudaHostAllocDefault), "cudaHostAlloc", ordinal);
  } else {
    check(cudaMalloc(&memory, bytes), "cudaMalloc", ordinal);
  }
  array.data = static_cast<T*>(memory);
  array.capacity = count;
}

}  // namespace

// ---- DeviceForest --------------------------------------------------------------

class DeviceForest {
 public:
  DeviceForest(const DeviceLayout& layout, int ordinal) : ordinal_(ordinal) {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      throw Error(device_name(ordinal) + ": ForestPredictor found no usable CUDA device: "
                  "cudaGetDeviceCount failed: " + error_text(status) +
                  "; use device: cpu on a machine without a GPU or NVIDIA driver");
    }
    if (ordinal < 0 || ordinal >= count) {
      throw Error(device_name(ordinal) + ": this machine has " + std::to_string(count) +
                  " CUDA device(s) (cuda:0 to cuda:" + std::to_string(count - 1) +
                  "); set device to one of them");
    }
    check(cudaSetDevice(ordinal), "cudaSetDevice", ordinal);
    cudaDeviceProp properties{};
    check(cudaGetDeviceProperties(&properties, ordinal), "cudaGetDeviceProperties", ordinal);
    name_ = properties.name;
    multiprocessors_ = properties.multiProcessorCount;

    // One allocation, each array aligned to 256 bytes.
    std::size_t total = 0;
    auto place = [&total](std::size_t bytes) {
      const std::size_t offset = total;
      total += (bytes + 255) / 256 * 256;
      return offset;
    };
    const std::size_t nodes = place(layout.nodes.size() * sizeof(DeviceNode));
    const std::size_t roots = place(layout.tree_root.size() * sizeof(std::uint32_t));
    const std::size_t groups = place(layout.tree_group.size() * sizeof(std::uint32_t));
    const std::size_t ranges = place(layout.category_ranges.size() * sizeof(CategoryRange));
    const std::size_t values = place(layout.category_values.size() * sizeof(std::int32_t));
    const std::size_t base = place(layout.base_margin.size() * sizeof(float));
    void* memory = nullptr;
    const cudaError_t allocated = cudaMalloc(&memory, std::max<std::size_t>(total, 256));
    if (allocated != cudaSuccess) {
      throw Error(device_name(ordinal) + ": the model " + layout.source_name + " needs " +
                  std::to_string(total) + " bytes of GPU memory; cudaMalloc failed: " +
                  error_text(allocated));
    }
    memory_ = static_cast<char*>(memory);
    auto copy = [&](std::size_t offset, const auto& vector) {
      if (vector.empty()) return;
      check(cudaMemcpy(memory_ + offset, vector.data(), vector.size() * sizeof(vector[0]),
                       cudaMemcpyHostToDevice),
            "cudaMemcpy (the model to the device)", ordinal);
    };
    try {
      copy(nodes, layout.nodes);
      copy(roots, layout.tree_root);
      copy(groups, layout.tree_group);
      copy(ranges, layout.category_ranges);
      copy(values, layout.category_values);
      copy(base, layout.base_margin);
    } catch (...) {
      cudaFree(memory_);
      throw;
    }
    view_ = layout.view();
    view_.nodes = reinterpret_cast<const DeviceNode*>(memory_ + nodes);
    view_.tree_root = reinterpret_cast<const std::uint32_t*>(memory_ + roots);
    view_.tree_group = reinterpret_cast<const std::uint32_t*>(memory_ + groups);
    view_.category_ranges = reinterpret_cast<const CategoryRange*>(memory_ + ranges);
    view_.category_values = reinterpret_cast<const std::int32_t*>(memory_ + values);
    view_.base_margin = reinterpret_cast<const float*>(memory_ + base);
  }
  DeviceForest(const DeviceForest&) = delete;
  DeviceForest& operator=(const DeviceForest&) = delete;
  ~DeviceForest() {
    cudaSetDevice(ordinal_);
    cudaFree(memory_);
  }

  [[nodiscard]] const ForestView& view() const noexcept { return view_; }
  [[nodiscard]] int ordinal() const noexcept { return ordinal_; }
  [[nodiscard]] int multiprocessors() const noexcept { return multiprocessors_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  int ordinal_;
  std::string name_;
  int multiprocessors_ = 1;
  char* memory_ = nullptr;
  ForestView view_{};  // device pointers into memory_
};

bool built_with_cuda() noexcept { return true; }

std::shared_ptr<const DeviceForest> upload_forest(const DeviceLayout& layout, int ordinal) {
  return std::make_shared<const DeviceForest>(layout, ordinal);
}

std::string describe_device(const DeviceForest& forest) {
  return "cuda:" + std::to_string(forest.ordinal()) + " (" + forest.name() + ", " +
         std::to_string(forest.multiprocessors()) + " SMs)";
}

// ---- CudaEvaluator ------------------------------------------------------------------

struct CudaEvaluator::Impl {
  std::shared_ptr<const DeviceForest> forest;
  ForestView view;
  int ordinal;
  bool transformed;
  Strategy strategy;
  std::size_t width;
  std::size_t per_row;
  bool margins_apart;  // multi:softmax: margins in their own buffer

  cudaStream_t stream = nullptr;
  DeviceArray<float> host_in;   // pinned
  DeviceArray<float> host_out;  // pinned
  DeviceArray<float> device_in;
  DeviceArray<float> device_out;
  DeviceArray<float> device_margins;
  DeviceArray<float> device_leaves;
  std::size_t capacity_rows = 0;
  std::unordered_map<std::size_t, cudaGraphExec_t> graphs;  // by batch rows

  Impl(std::shared_ptr<const DeviceForest> model, bool transformed_output, Strategy chosen)
      : forest(std::move(model)),
        view(forest->view()),
        ordinal(forest->ordinal()),
        transformed(transformed_output),
        strategy(chosen),
        width(view.num_features),
        per_row(gpu::outputs_per_row(view, transformed_output)),
        margins_apart(per_row != view.num_groups) {
    check(cudaSetDevice(ordinal), "cudaSetDevice", ordinal);
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate", ordinal);
  }

  ~Impl() {
    cudaSetDevice(ordinal);
    drop_graphs();
    free_array(host_in, true);
    free_array(host_out, true);
    free_array(device_in, false);
    free_array(device_out, false);
    free_array(device_margins, false);
    free_array(device_leaves, false);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }

  void drop_graphs() noexcept {
    for (auto& [rows, graph] : graphs) cudaGraphExecDestroy(graph);
    graphs.clear();
  }

  [[nodiscard]] Strategy strategy_for(std::size_t rows) const noexcept {
    if (view.num_trees == 0) return Strategy::kRowParallel;
    if (strategy != Strategy::kAuto) return strategy;
    // Rows enough for every SM to hold two blocks of rows: one thread per
    // row keeps the GPU busy and needs no leaf buffer.
    const std::size_t filling = static_cast<std::size_t>(forest->multiprocessors()) * 2 * 1024;
    return rows >= filling ? Strategy::kRowParallel : Strategy::kTreeParallel;
  }

  [[nodiscard]] std::size_t chunk_rows(std::size_t rows) const noexcept {
    return std::clamp<std::size_t>(kLeafScratchFloats / std::max<std::uint32_t>(view.num_trees, 1),
                                   1, rows);
  }

  // Buffers for a batch of `rows` rows. Growing one invalidates the
  // graphs, which captured the old pointers.
  void reserve(std::size_t rows) {
    if (rows > capacity_rows) {
      drop_graphs();
      reserve_array(host_in, rows * width, true, ordinal);
      reserve_array(host_out, rows * per_row, true, ordinal);
      reserve_array(device_in, rows * width, false, ordinal);
      reserve_array(device_out, rows * per_row, false, ordinal);
      if (margins_apart) reserve_array(device_margins, rows * view.num_groups, false, ordinal);
      capacity_rows = rows;
    }
    if (strategy_for(rows) == Strategy::kTreeParallel) {
      const std::size_t leaves = chunk_rows(rows) * view.num_trees;
      if (leaves > device_leaves.capacity) {
        drop_graphs();
        reserve_array(device_leaves, leaves, false, ordinal);
      }
    }
  }

  // Copy in, kernels, copy out, on `stream` (captured into a graph or not).
  void enqueue(std::size_t rows) {
    check(cudaMemcpyAsync(device_in.data, host_in.data, rows * width * sizeof(float),
                          cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync (features to the device)", ordinal);
    float* margins = margins_apart ? device_margins.data : nullptr;
    if (strategy_for(rows) == Strategy::kRowParallel) {
      const bool staged = kRowThreads * width * sizeof(float) <= kStagedBytes;
      const std::size_t shared = staged ? kRowThreads * width * sizeof(float) : 0;
      predict_rows_kernel<<<blocks_for(rows, kRowThreads), kRowThreads, shared, stream>>>(
          view, device_in.data, rows, staged, transformed, margins, device_out.data);
      check(cudaGetLastError(), "predict_rows_kernel launch", ordinal);
    } else {
      const std::size_t chunk = chunk_rows(rows);
      for (std::size_t first = 0; first < rows; first += chunk) {
        const std::size_t count = std::min(chunk, rows - first);
        unsigned tile_rows = 1;
        while (tile_rows < 32 && tile_rows < count) tile_rows *= 2;
        const unsigned tree_tiles = blocks_for(view.num_trees, kTreeThreads / tile_rows);
        const unsigned row_tiles = blocks_for(count, tile_rows);
        tree_leaves_kernel<<<tree_tiles * row_tiles, kTreeThreads, 0, stream>>>(
            view, device_in.data + first * width, count, tile_rows, tree_tiles,
            device_leaves.data);
        check(cudaGetLastError(), "tree_leaves_kernel launch", ordinal);
        sum_leaves_kernel<<<blocks_for(count, kRowThreads), kRowThreads, 0, stream>>>(
            view, device_leaves.data, count, transformed,
            margins == nullptr ? nullptr : margins + first * view.num_groups,
            device_out.data + first * per_row);
        check(cudaGetLastError(), "sum_leaves_kernel launch", ordinal);
      }
    }
    check(cudaMemcpyAsync(host_out.data, device_out.data, rows * per_row * sizeof(float),
                          cudaMemcpyDeviceToHost, stream),
          "cudaMemcpyAsync (outputs to the host)", ordinal);
  }

  void launch_graph(std::size_t rows) {
    auto found = graphs.find(rows);
    if (found == graphs.end()) {
      if (graphs.size() >= kMaxGraphs) drop_graphs();
      cudaGraph_t graph = nullptr;
      check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal),
            "cudaStreamBeginCapture", ordinal);
      try {
        enqueue(rows);
      } catch (...) {
        cudaStreamEndCapture(stream, &graph);
        if (graph != nullptr) cudaGraphDestroy(graph);
        throw;
      }
      check(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture", ordinal);
      cudaGraphExec_t exec = nullptr;
      const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
      cudaGraphDestroy(graph);
      check(status, "cudaGraphInstantiate", ordinal);
      found = graphs.emplace(rows, exec).first;
    }
    check(cudaGraphLaunch(found->second, stream), "cudaGraphLaunch", ordinal);
  }

  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) {
    check(cudaSetDevice(ordinal), "cudaSetDevice", ordinal);
    reserve(rows);
    std::memcpy(host_in.data, features.data(), rows * width * sizeof(float));
    if (rows <= kGraphRows) {
      launch_graph(rows);
    } else {
      enqueue(rows);
    }
    // A kernel fault surfaces here, with the name of what failed.
    check(cudaStreamSynchronize(stream), "the prediction (cudaStreamSynchronize)", ordinal);
    std::memcpy(out.data(), host_out.data, rows * per_row * sizeof(float));
  }
};

CudaEvaluator::CudaEvaluator(std::shared_ptr<const DeviceForest> forest, bool transformed,
                             Strategy strategy)
    : impl_(std::make_unique<Impl>(std::move(forest), transformed, strategy)) {}

CudaEvaluator::~CudaEvaluator() = default;

std::size_t CudaEvaluator::num_features() const noexcept { return impl_->width; }
std::size_t CudaEvaluator::outputs_per_row() const noexcept { return impl_->per_row; }

void CudaEvaluator::predict(std::span<const float> features, std::size_t rows,
                            std::span<float> out) {
  impl_->predict(features, rows, out);
}

}  // namespace inferloop::detail::gpu
