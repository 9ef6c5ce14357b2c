# inferloop_forest: the model admission gate, the forest reader and its
# evaluators (the CPU one, the CUDA one when INFERLOOP_WITH_CUDA, and the
# CUDA evaluator's host reference). It needs only nlohmann/json (and CUDA),
# so scripts/gpu-check builds it on a GPU machine that has none of Boost,
# yaml-cpp or libcurl (CMakeLists.txt's INFERLOOP_FOREST_ONLY).
#
# An OBJECT library: its objects go into the inferloop library itself, so
# the installed package has one archive as before; the GPU check programs
# (tests/gpu) link it directly.
#
# REQUIRES: the target nlohmann_json::nlohmann_json; InferloopCuda.cmake
# included first.
include_guard(GLOBAL)

add_library(inferloop_forest OBJECT
  src/forest/cuda/device_layout.cpp
  src/forest/cuda/host_reference.cpp
  src/forest/forest_kernels.cpp
  src/forest/forest_kernels_avx2.cpp
  src/forest/forest_kernels_avx512.cpp
  src/forest/forest_kernels_baseline.cpp
  src/forest/forest_layout.cpp
  src/forest/forest_load.cpp
  src/forest/forest_model.cpp
  src/forest/forest_reader.cpp
  src/forest/lightgbm_forest.cpp
  src/model/admission.cpp
  src/model/lightgbm_admission.cpp
  src/model/lightgbm_text.cpp
  src/model/model_document.cpp
  src/model/tree_admission.cpp
  src/util/checked.cpp
  src/util/device.cpp
  src/util/error.cpp
  src/util/text.cpp
)
if(INFERLOOP_WITH_CUDA)
  target_sources(inferloop_forest PRIVATE src/forest/cuda/cuda_evaluator.cu)
  target_compile_options(inferloop_forest PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-fmad=false>)
  # The static runtime: a binary runs wherever the driver is new enough,
  # without a libcudart of the right version beside it.
  target_link_libraries(inferloop_forest PUBLIC CUDA::cudart_static)
else()
  target_sources(inferloop_forest PRIVATE src/forest/cuda/cuda_unavailable.cpp)
endif()
target_include_directories(inferloop_forest
  PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>)
target_compile_features(inferloop_forest PUBLIC cxx_std_20)
target_link_libraries(inferloop_forest PUBLIC $<BUILD_INTERFACE:nlohmann_json::nlohmann_json>)
target_compile_options(inferloop_forest PRIVATE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic>)
set_target_properties(inferloop_forest PROPERTIES POSITION_INDEPENDENT_CODE ON)
