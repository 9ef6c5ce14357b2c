// Which kernel set this CPU runs (forest_kernels.hpp).
#include "forest/forest_kernels.hpp"

namespace inferloop::detail {

std::string_view to_string(ForestIsa isa) noexcept {
  switch (isa) {
    case ForestIsa::kBaseline:
      return "baseline";
    case ForestIsa::kAvx2:
      return "avx2";
    case ForestIsa::kAvx512:
      return "avx512";
  }
  return "?";
}

bool cpu_supports(ForestIsa isa) noexcept {
#if defined(__x86_64__)
  // __builtin_cpu_supports also checks that the OS saves the wider registers.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") &&
                    __builtin_cpu_supports("popcnt");
  switch (isa) {
    case ForestIsa::kBaseline:
      return true;
    case ForestIsa::kAvx2:
      return avx2;
    case ForestIsa::kAvx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == ForestIsa::kBaseline;
#endif
}

std::vector<ForestIsa> supported_forest_isas() {
  std::vector<ForestIsa> isas;
  for (const ForestIsa isa : {ForestIsa::kBaseline, ForestIsa::kAvx2, ForestIsa::kAvx512}) {
    if (cpu_supports(isa)) isas.push_back(isa);
  }
  return isas;
}

ForestIsa best_forest_isa() noexcept {
  if (cpu_supports(ForestIsa::kAvx512)) return ForestIsa::kAvx512;
  if (cpu_supports(ForestIsa::kAvx2)) return ForestIsa::kAvx2;
  return ForestIsa::kBaseline;
}

const ForestKernels& forest_kernels(ForestIsa isa) noexcept {
#if defined(__x86_64__)
  if (isa == ForestIsa::kAvx512) return kAvx512Kernels;
  if (isa == ForestIsa::kAvx2) return kAvx2Kernels;
#endif
  (void)isa;
  return kBaselineKernels;
}

const ForestKernels& forest_kernels_tiling_every_batch(ForestIsa isa) noexcept {
  const auto tiling = [](ForestIsa set) {
    ForestKernels kernels = forest_kernels(set);
    kernels.tile_min_rows = 1;
    return kernels;
  };
  static const ForestKernels baseline = tiling(ForestIsa::kBaseline);
  static const ForestKernels avx2 = tiling(ForestIsa::kAvx2);
  static const ForestKernels avx512 = tiling(ForestIsa::kAvx512);
  switch (isa) {
    case ForestIsa::kAvx2:
      return avx2;
    case ForestIsa::kAvx512:
      return avx512;
    case ForestIsa::kBaseline:
      break;
  }
  return baseline;
}

}  // namespace inferloop::detail
