# Finds the XGBoost C library and defines the imported target inferloop_xgboost,
# which inferloop links PRIVATE. inferloop uses only XGBoost's C API
# (xgboost/c_api.h), whose functions it calls have the same signatures in 1.7 and
# 3.x, so any of these routes works:
#   (a) INFERLOOP_XGBOOST_LIBRARY: an explicit libxgboost.so, e.g. the one inside
#       the PyPI wheel (site-packages/xgboost/lib/libxgboost.so). The wheel ships
#       no headers; INFERLOOP_XGBOOST_INCLUDE_DIR (or the system's c_api.h) gives
#       them. Executables built here load exactly that library at run time.
#   (b) find_package(xgboost CONFIG): source, conda and Debian installs.
#   (c) find_library(xgboost) + find_path(xgboost/c_api.h).
# The installed inferloopConfig.cmake includes this same file, so a consumer of a
# static inferloop finds the library the same way (and by default the same file).
include_guard(DIRECTORY)

set(INFERLOOP_XGBOOST_LIBRARY "${INFERLOOP_XGBOOST_LIBRARY}" CACHE FILEPATH
    "libxgboost to use instead of searching for one (e.g. <venv>/site-packages/xgboost/lib/libxgboost.so)")
set(INFERLOOP_XGBOOST_INCLUDE_DIR "${INFERLOOP_XGBOOST_INCLUDE_DIR}" CACHE PATH
    "Folder holding xgboost/c_api.h, for use with INFERLOOP_XGBOOST_LIBRARY (default: searched)")

if(TARGET inferloop_xgboost)
  return()
endif()

set(_inferloop_xgboost_help
    "Install XGBoost's C library and headers (Debian/Ubuntu: apt-get install libxgboost-dev), \
or point CMake at one: -DINFERLOOP_XGBOOST_LIBRARY=/path/to/libxgboost.so \
[-DINFERLOOP_XGBOOST_INCLUDE_DIR=/path/holding/xgboost/c_api.h], \
or -Dxgboost_DIR=/path/to/lib/cmake/xgboost.")

# The headers for routes (a) and (c): the cache variable when set, else a search.
function(_inferloop_xgboost_headers out_var)
  if(INFERLOOP_XGBOOST_INCLUDE_DIR)
    if(NOT EXISTS "${INFERLOOP_XGBOOST_INCLUDE_DIR}/xgboost/c_api.h")
      message(FATAL_ERROR
        "inferloop: INFERLOOP_XGBOOST_INCLUDE_DIR=${INFERLOOP_XGBOOST_INCLUDE_DIR} has no "
        "xgboost/c_api.h. Set it to the folder that contains the xgboost/ header folder "
        "(Debian: /usr/include), or clear it to search.")
    endif()
    set(${out_var} "${INFERLOOP_XGBOOST_INCLUDE_DIR}" PARENT_SCOPE)
    return()
  endif()
  find_path(_inferloop_xgboost_include xgboost/c_api.h NO_CACHE)
  if(NOT _inferloop_xgboost_include AND INFERLOOP_XGBOOST_HEADERS_OPTIONAL)
    # inferloop's installed config: the consumer only links the library.
    set(${out_var} "" PARENT_SCOPE)
    return()
  elseif(NOT _inferloop_xgboost_include)
    message(FATAL_ERROR
      "inferloop: found no xgboost/c_api.h for the XGBoost library ${ARGN}. "
      "The PyPI wheel ships no headers: install them (apt-get install libxgboost-dev) "
      "or set -DINFERLOOP_XGBOOST_INCLUDE_DIR to a folder holding xgboost/c_api.h.")
  endif()
  set(${out_var} "${_inferloop_xgboost_include}" PARENT_SCOPE)
endfunction()

# Sets ok_var to TRUE when find_package(xgboost CONFIG) succeeds in a separate
# cmake process that searches the same places, else to FALSE with error_var set to
# the reason (empty when there simply is no such package).
function(_inferloop_xgboost_package_loads ok_var error_var)
  set(probe_dir "${CMAKE_BINARY_DIR}/CMakeFiles/inferloop-xgboost-probe")
  file(WRITE "${probe_dir}/CMakeLists.txt"
       "cmake_minimum_required(VERSION 3.22)\n"
       "project(inferloop_xgboost_probe NONE)\n"
       "find_package(xgboost CONFIG QUIET)\n"
       "if(NOT xgboost_FOUND)\n  message(FATAL_ERROR \"inferloop-probe: not found\")\nendif()\n")
  set(probe_args
      "-DCMAKE_LIBRARY_ARCHITECTURE=${CMAKE_LIBRARY_ARCHITECTURE}"
      "-DCMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH}"
      "-DCMAKE_FIND_ROOT_PATH=${CMAKE_FIND_ROOT_PATH}")
  if(xgboost_DIR)
    list(APPEND probe_args "-Dxgboost_DIR=${xgboost_DIR}")
  endif()
  execute_process(
    COMMAND "${CMAKE_COMMAND}" ${probe_args} -S "${probe_dir}" -B "${probe_dir}/build"
    RESULT_VARIABLE probe_result OUTPUT_QUIET ERROR_VARIABLE probe_error)
  if(probe_result EQUAL 0)
    set(${ok_var} TRUE PARENT_SCOPE)
    set(${error_var} "" PARENT_SCOPE)
  elseif(probe_error MATCHES "inferloop-probe: not found")
    set(${ok_var} FALSE PARENT_SCOPE)
    set(${error_var} "" PARENT_SCOPE)
  else()
    # The first line that says what went wrong, not the whole call stack.
    string(REGEX REPLACE "\n[ \t\n]*" " " probe_error "${probe_error}")
    string(REGEX MATCH "CMake Error at ([^:]*:[0-9]+)[^:]*: ([^.]*)" probe_error "${probe_error}")
    set(probe_error "${CMAKE_MATCH_1}: ${CMAKE_MATCH_2}")
    set(${ok_var} FALSE PARENT_SCOPE)
    set(${error_var} "${probe_error}" PARENT_SCOPE)
  endif()
endfunction()

if(INFERLOOP_XGBOOST_LIBRARY)
  # Route (a).
  if(NOT EXISTS "${INFERLOOP_XGBOOST_LIBRARY}" OR IS_DIRECTORY "${INFERLOOP_XGBOOST_LIBRARY}")
    message(FATAL_ERROR
      "inferloop: INFERLOOP_XGBOOST_LIBRARY=${INFERLOOP_XGBOOST_LIBRARY} is not a file. "
      "Set it to a libxgboost.so, e.g. the output of: python -c 'import xgboost, os; "
      "print(os.path.join(os.path.dirname(xgboost.__file__), \"lib\", \"libxgboost.so\"))'")
  endif()
  _inferloop_xgboost_headers(_inferloop_xgboost_include_dir "${INFERLOOP_XGBOOST_LIBRARY}")
  # A SHARED IMPORTED target with a full path makes CMake put the library's folder
  # in the build RPATH of everything that links it. That matters: the wheel's SONAME
  # is libxgboost.so, which without an RPATH the loader would resolve to the
  # system's /usr/lib/<arch>/libxgboost.so (Debian's 1.7) instead.
  if(INFERLOOP_XGBOOST_LIBRARY MATCHES "\\.a$")
    add_library(inferloop_xgboost STATIC IMPORTED)
  else()
    add_library(inferloop_xgboost SHARED IMPORTED)
  endif()
  set_target_properties(inferloop_xgboost PROPERTIES
    IMPORTED_LOCATION "${INFERLOOP_XGBOOST_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${_inferloop_xgboost_include_dir}")
  set(_inferloop_xgboost_route "INFERLOOP_XGBOOST_LIBRARY")
  set(_inferloop_xgboost_file "${INFERLOOP_XGBOOST_LIBRARY}")
else()
  # An xgboost CMake package that names a missing file stops the whole configure
  # with a FATAL_ERROR, and Debian 12's does exactly that unless the separate
  # `xgboost` (command-line) package is installed: its targets file also exports
  # /usr/bin/xgboost. So try the package in a throw-away project first and fall
  # back to route (c) when it cannot load.
  _inferloop_xgboost_package_loads(_inferloop_xgboost_package_ok _inferloop_xgboost_package_error)
  if(_inferloop_xgboost_package_ok)
    find_package(xgboost CONFIG QUIET)
  elseif(_inferloop_xgboost_package_error)
    message(STATUS "inferloop: ignoring xgboost's CMake package, which fails to load "
                   "(${_inferloop_xgboost_package_error}); on Debian, apt-get install xgboost fixes it")
  endif()
  if(_inferloop_xgboost_package_ok AND xgboost_FOUND AND TARGET xgboost::xgboost)
    # Route (b).
    add_library(inferloop_xgboost INTERFACE IMPORTED)
    target_link_libraries(inferloop_xgboost INTERFACE xgboost::xgboost)
    set(_inferloop_xgboost_file "")
    foreach(_property IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION_NONE IMPORTED_LOCATION
                      IMPORTED_LOCATION_RELWITHDEBINFO IMPORTED_LOCATION_DEBUG)
      get_target_property(_inferloop_xgboost_file xgboost::xgboost ${_property})
      if(_inferloop_xgboost_file)
        break()
      endif()
    endforeach()
    set(_inferloop_xgboost_route "find_package(xgboost CONFIG) from ${xgboost_DIR}")
  else()
    # Route (c).
    find_library(_inferloop_xgboost_lib NAMES xgboost NO_CACHE)
    if(NOT _inferloop_xgboost_lib)
      message(FATAL_ERROR "inferloop: XGBoost not found (no xgboost CMake package, no libxgboost). "
                          "${_inferloop_xgboost_help}")
    endif()
    _inferloop_xgboost_headers(_inferloop_xgboost_include_dir "${_inferloop_xgboost_lib}")
    add_library(inferloop_xgboost UNKNOWN IMPORTED)
    set_target_properties(inferloop_xgboost PROPERTIES
      IMPORTED_LOCATION "${_inferloop_xgboost_lib}"
      INTERFACE_INCLUDE_DIRECTORIES "${_inferloop_xgboost_include_dir}")
    set(_inferloop_xgboost_route "find_library(xgboost)")
    set(_inferloop_xgboost_file "${_inferloop_xgboost_lib}")
  endif()
endif()

if(NOT INFERLOOP_XGBOOST_QUIET)
  message(STATUS "inferloop: XGBoost via ${_inferloop_xgboost_route}: ${_inferloop_xgboost_file}")
endif()
unset(_inferloop_xgboost_route)
unset(_inferloop_xgboost_file)
unset(_inferloop_xgboost_include_dir)
unset(_inferloop_xgboost_lib)
unset(_inferloop_xgboost_package_ok)
unset(_inferloop_xgboost_package_error)
