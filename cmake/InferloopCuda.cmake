# INFERLOOP_WITH_CUDA: build ForestPredictor's CUDA evaluator
# (src/forest/cuda/cuda_evaluator.cu). ON by default when a CUDA compiler
# (nvcc) is found; the CUDA language is enabled only then, so a machine
# without the toolkit configures as before and `device: cuda` says, at
# start(), that this build has no CUDA.
#
# Targets: sm_90 machine code (the H100/H200) plus compute_75 PTX, which the
# driver compiles for any other GPU from Turing on (CUDA 13's oldest); the
# kernels use nothing newer. Override with -DCMAKE_CUDA_ARCHITECTURES=...
#
# No fast math: -fmad=false keeps a * b + c from being contracted into an
# FMA wherever the source does not ask for one, and nvcc's defaults
# (-prec-div=true, -prec-sqrt=true, -ftz=false) keep IEEE float semantics.
# The arithmetic that decides results also spells its rounding out
# (src/forest/cuda/device_forest.hpp).
include_guard(GLOBAL)
include(CheckLanguage)

check_language(CUDA)
# OFF by default in a sanitizer tree: InferloopSanitizers.cmake adds
# -fsanitize=... to every language, and nvcc's host compiler (gcc) would
# instrument the .cu file against a runtime other than clang's. Those trees
# test the build without CUDA instead (device: cuda fails at start()).
if(CMAKE_CUDA_COMPILER AND NOT INFERLOOP_SANITIZE)
  set(_inferloop_cuda_default ON)
else()
  set(_inferloop_cuda_default OFF)
endif()
option(INFERLOOP_WITH_CUDA
       "Build ForestPredictor's CUDA evaluator (default: ON when nvcc is found, OFF with INFERLOOP_SANITIZE)"
       ${_inferloop_cuda_default})
unset(_inferloop_cuda_default)

if(INFERLOOP_WITH_CUDA)
  if(INFERLOOP_SANITIZE)
    message(FATAL_ERROR "inferloop: INFERLOOP_WITH_CUDA=ON cannot be combined with "
                        "INFERLOOP_SANITIZE=${INFERLOOP_SANITIZE} (nvcc takes no sanitizer flags); "
                        "configure the sanitizer tree with -DINFERLOOP_WITH_CUDA=OFF.")
  endif()
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR
      "inferloop: INFERLOOP_WITH_CUDA=ON but no CUDA compiler was found. Install the CUDA "
      "toolkit (nvcc on PATH), set -DCMAKE_CUDA_COMPILER=/path/to/nvcc, or configure with "
      "-DINFERLOOP_WITH_CUDA=OFF.")
  endif()
  set(CMAKE_CUDA_ARCHITECTURES "90-real;75-virtual" CACHE STRING
      "CUDA targets: sm_90 machine code plus compute_75 PTX for every other GPU")
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # C++20 (the CUDA dialect follows CMAKE_CXX_STANDARD): CMake before 3.26
  # knows no flag for it with nvcc 12+, which takes -std=c++20.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  message(STATUS "inferloop: CUDA evaluator ON (${CMAKE_CUDA_COMPILER}, "
                 "CUDA ${CUDAToolkit_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
else()
  message(STATUS "inferloop: CUDA evaluator OFF (device: cuda fails at start(); "
                 "-DINFERLOOP_WITH_CUDA=ON with nvcc installed builds it)")
endif()
