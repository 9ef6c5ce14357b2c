// The CUDA evaluator's entry points in a build without CUDA
// (INFERLOOP_WITH_CUDA=OFF): each says so, so that `device: cuda` fails at
// start() with what to do rather than at link time or silently on the CPU.
#include <string>

#include "forest/cuda/cuda_evaluator.hpp"
#include "inferloop/error.hpp"

namespace inferloop::detail::gpu {
namespace {

[[noreturn]] void refuse(int ordinal) {
  throw Error("device: cuda:" + std::to_string(ordinal) +
              ": this inferloop was built without CUDA (INFERLOOP_WITH_CUDA=OFF, or no nvcc was "
              "found when it was configured); use device: cpu, or rebuild with the CUDA "
              "toolkit: cmake -DINFERLOOP_WITH_CUDA=ON");
}

}  // namespace

class DeviceForest {};
struct CudaEvaluator::Impl {};

bool built_with_cuda() noexcept { return false; }

std::shared_ptr<const DeviceForest> upload_forest(const DeviceLayout&, int ordinal) {
  refuse(ordinal);
}

std::string describe_device(const DeviceForest&) { return "cuda (unavailable)"; }

CudaEvaluator::CudaEvaluator(std::shared_ptr<const DeviceForest>, bool, Strategy) { refuse(0); }
CudaEvaluator::~CudaEvaluator() = default;
std::size_t CudaEvaluator::num_features() const noexcept { return 0; }
std::size_t CudaEvaluator::outputs_per_row() const noexcept { return 0; }
void CudaEvaluator::predict(std::span<const float>, std::size_t, std::span<float>) { refuse(0); }

}  // namespace inferloop::detail::gpu
