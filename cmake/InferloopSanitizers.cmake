# INFERLOOP_SANITIZE builds every target of this project (and whatever links the
# library) with sanitizers: '' (none), 'address,undefined' or 'thread'.
# Applied with add_compile_options/add_link_options so it covers the library,
# its tests and tools, but not a parent project that add_subdirectory()s inferloop;
# that project instead gets the link flags through inferloop's INTERFACE_LINK_OPTIONS,
# since an instrumented static library cannot link without the sanitizer runtime.
include_guard(DIRECTORY)

set(INFERLOOP_SANITIZE "${INFERLOOP_SANITIZE}" CACHE STRING
    "Sanitizers to build with: '', 'address,undefined' or 'thread'")
set_property(CACHE INFERLOOP_SANITIZE PROPERTY STRINGS "" "address,undefined" "thread")

set(INFERLOOP_SANITIZER_FLAGS "")
if(INFERLOOP_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "inferloop: INFERLOOP_SANITIZE=${INFERLOOP_SANITIZE} needs GCC or Clang, "
                        "not ${CMAKE_CXX_COMPILER_ID}. Clear INFERLOOP_SANITIZE or change compiler.")
  endif()
  string(REPLACE "," ";" _inferloop_sanitizers "${INFERLOOP_SANITIZE}")
  foreach(_sanitizer IN LISTS _inferloop_sanitizers)
    if(NOT _sanitizer MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "inferloop: INFERLOOP_SANITIZE=${INFERLOOP_SANITIZE}: unknown sanitizer "
                          "'${_sanitizer}'. Use '', 'address,undefined' or 'thread'.")
    endif()
  endforeach()
  if("thread" IN_LIST _inferloop_sanitizers AND "address" IN_LIST _inferloop_sanitizers)
    message(FATAL_ERROR "inferloop: INFERLOOP_SANITIZE=${INFERLOOP_SANITIZE}: ThreadSanitizer and "
                        "AddressSanitizer cannot be combined; configure two build folders.")
  endif()
  set(INFERLOOP_SANITIZER_FLAGS -fsanitize=${INFERLOOP_SANITIZE} -fno-omit-frame-pointer)
  if("undefined" IN_LIST _inferloop_sanitizers)
    # Abort at the first report so ctest fails instead of printing and passing.
    list(APPEND INFERLOOP_SANITIZER_FLAGS -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${INFERLOOP_SANITIZER_FLAGS})
  if("thread" IN_LIST _inferloop_sanitizers AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC warns that TSan does not model std::atomic_thread_fence. inferloop's
    # seqlocks pair their fences with payloads that are themselves atomics, so
    # TSan needs no fence to see them race-free; the warning is expected.
    add_compile_options(-Wno-tsan)
  endif()
  add_link_options(${INFERLOOP_SANITIZER_FLAGS})
  list(JOIN INFERLOOP_SANITIZER_FLAGS " " _inferloop_flags_text)
  message(STATUS "inferloop: sanitizers: ${_inferloop_flags_text}")
  unset(_inferloop_flags_text)

  # The library target does not exist yet when this file is included.
  function(_inferloop_sanitize_library_interface)
    if(TARGET inferloop)
      target_link_options(inferloop INTERFACE ${INFERLOOP_SANITIZER_FLAGS})
    endif()
  endfunction()
  cmake_language(DEFER CALL _inferloop_sanitize_library_interface)
  unset(_inferloop_sanitizers)
  unset(_sanitizer)
endif()
