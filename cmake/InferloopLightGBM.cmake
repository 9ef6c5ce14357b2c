# LightGBMPredictor (src/lightgbm/): LightGBM's own C API, the reference a user
# can pick beside ForestPredictor's native LightGBM evaluator.
#
# The library is not linked: LightGBMPredictor loads lib_lightgbm.so at run
# time (dlopen), so libinferloop and its installed package depend on nothing
# new, and a build without LightGBM still serves LightGBM models through
# ForestPredictor. What the build needs is the C header of the same LightGBM
# version, which the PyPI wheel does not ship: scripts/fetch_lightgbm_headers.py
# takes it from that version's source distribution (scripts/bootstrap runs it).
#
#   INFERLOOP_LIGHTGBM_INCLUDE_DIR  folder holding LightGBM/c_api.h; without it
#                                   (and none found) the library gets
#                                   lightgbm_predictor_unbuilt.cpp instead, whose
#                                   LightGBMPredictor refuses every model, saying
#                                   how to build it.
#   INFERLOOP_LIGHTGBM_LIBRARY      the lib_lightgbm.so LightGBMPredictor loads
#                                   when the environment variable of the same
#                                   name is unset (e.g. <venv>/site-packages/
#                                   lightgbm/lib/lib_lightgbm.so); empty: the
#                                   dynamic loader's search for lib_lightgbm.so.
set(INFERLOOP_LIGHTGBM_INCLUDE_DIR "${INFERLOOP_LIGHTGBM_INCLUDE_DIR}" CACHE PATH
    "Folder holding LightGBM/c_api.h, for LightGBMPredictor (scripts/fetch_lightgbm_headers.py)")
set(INFERLOOP_LIGHTGBM_LIBRARY "${INFERLOOP_LIGHTGBM_LIBRARY}" CACHE FILEPATH
    "lib_lightgbm.so that LightGBMPredictor loads by default")

set(_inferloop_lightgbm_sources src/lightgbm/lightgbm_c_api.cpp src/lightgbm/lightgbm_predictor.cpp)
if(INFERLOOP_LIGHTGBM_INCLUDE_DIR)
  if(NOT EXISTS "${INFERLOOP_LIGHTGBM_INCLUDE_DIR}/LightGBM/c_api.h")
    message(FATAL_ERROR
      "inferloop: INFERLOOP_LIGHTGBM_INCLUDE_DIR=${INFERLOOP_LIGHTGBM_INCLUDE_DIR} has no "
      "LightGBM/c_api.h. Run scripts/fetch_lightgbm_headers.py VENV (it prints the folder) or "
      "leave INFERLOOP_LIGHTGBM_INCLUDE_DIR empty to build without LightGBMPredictor.")
  endif()
  set(_inferloop_lightgbm_include "${INFERLOOP_LIGHTGBM_INCLUDE_DIR}")
else()
  find_path(_inferloop_lightgbm_include LightGBM/c_api.h NO_CACHE)
endif()

if(_inferloop_lightgbm_include)
  message(STATUS "inferloop: LightGBMPredictor over ${_inferloop_lightgbm_include}/LightGBM/c_api.h, "
                 "loading '${INFERLOOP_LIGHTGBM_LIBRARY}' by default")
  # Only these two files see LightGBM's header.
  set_source_files_properties(${_inferloop_lightgbm_sources} PROPERTIES
    INCLUDE_DIRECTORIES "${_inferloop_lightgbm_include}")
  set_property(SOURCE src/lightgbm/lightgbm_c_api.cpp APPEND PROPERTY COMPILE_DEFINITIONS
    "INFERLOOP_DEFAULT_LIGHTGBM_LIBRARY=\"${INFERLOOP_LIGHTGBM_LIBRARY}\"")
  set(INFERLOOP_HAS_LIGHTGBM_C_API ON)
else()
  message(STATUS "inferloop: no LightGBM/c_api.h: LightGBMPredictor refuses models "
                 "(set INFERLOOP_LIGHTGBM_INCLUDE_DIR; scripts/fetch_lightgbm_headers.py)")
  set(INFERLOOP_HAS_LIGHTGBM_C_API OFF)
  set(_inferloop_lightgbm_sources src/lightgbm/lightgbm_predictor_unbuilt.cpp)
endif()
target_sources(inferloop PRIVATE ${_inferloop_lightgbm_sources})
unset(_inferloop_lightgbm_sources)
unset(_inferloop_lightgbm_include)
