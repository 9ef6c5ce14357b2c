// Which kernel set this CPU runs (forest_kernels.hpp).
#include "forest/forest_kernels.hpp"

#include <array>
#include <cstdint>

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

std::string_view to_string(ForestWalks walks) noexcept {
  switch (walks) {
    case ForestWalks::kBySize:
      return "by batch size";
    case ForestWalks::kTileEveryBatch:
      return "tile walk for every batch";
    case ForestWalks::kPortableRowWalk:
      return "portable row walk for every batch";
  }
  return "?";
}

const ForestKernels& forest_kernels(ForestIsa isa, ForestWalks walks) noexcept {
  const auto with = [](ForestIsa set, ForestWalks forced) {
    ForestKernels kernels = forest_kernels(set);
    if (forced == ForestWalks::kTileEveryBatch) kernels.tile_min_rows = 1;
    if (forced == ForestWalks::kPortableRowWalk) {
      kernels.walk_row = &walk_row_portable;
      kernels.tile_min_rows = SIZE_MAX;
    }
    return kernels;
  };
  using Table = std::array<ForestKernels, 3>;  // indexed by ForestIsa
  const auto table = [&](ForestWalks forced) {
    return Table{with(ForestIsa::kBaseline, forced), with(ForestIsa::kAvx2, forced),
                 with(ForestIsa::kAvx512, forced)};
  };
  static const Table tiling = table(ForestWalks::kTileEveryBatch);
  static const Table portable = table(ForestWalks::kPortableRowWalk);
  switch (walks) {
    case ForestWalks::kBySize:
      return forest_kernels(isa);
    case ForestWalks::kTileEveryBatch:
      return tiling[static_cast<std::size_t>(isa)];
    case ForestWalks::kPortableRowWalk:
      return portable[static_cast<std::size_t>(isa)];
  }
  return forest_kernels(isa);
}

}  // namespace inferloop::detail
