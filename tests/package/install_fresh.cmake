# cmake -DINFERLOOP_BINARY_DIR=... -DINFERLOOP_PREFIX=... -DINFERLOOP_CONFIG=... -P install_fresh.cmake
# Installs a build into an emptied prefix, so that a file the install rules stop
# installing cannot be found left over from an earlier run.
foreach(variable INFERLOOP_BINARY_DIR INFERLOOP_PREFIX)
  if(NOT ${variable})
    message(FATAL_ERROR "install_fresh.cmake: pass -D${variable}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${INFERLOOP_PREFIX}")
set(config_args "")
if(INFERLOOP_CONFIG)
  set(config_args --config "${INFERLOOP_CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${INFERLOOP_BINARY_DIR}" --prefix "${INFERLOOP_PREFIX}" ${config_args}
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install ${INFERLOOP_BINARY_DIR} --prefix ${INFERLOOP_PREFIX} failed (${result})")
endif()
if(NOT EXISTS "${INFERLOOP_PREFIX}/include/inferloop/inferloop.hpp")
  message(FATAL_ERROR "${INFERLOOP_PREFIX}/include/inferloop/inferloop.hpp was not installed")
endif()
file(GLOB_RECURSE configs "${INFERLOOP_PREFIX}/*/inferloopConfig.cmake")
if(NOT configs)
  message(FATAL_ERROR "no inferloopConfig.cmake was installed under ${INFERLOOP_PREFIX}")
endif()
