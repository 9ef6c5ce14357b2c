# cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DJOBS=N -DOPTIONS=a|b|c -P build_subproject.cmake
# Configures the consumer project in SOURCE_DIR into BINARY_DIR with OPTIONS
# ('|'-separated cache settings), builds it with `cmake --build --parallel JOBS`
# and runs its `consumer`. It stands in for ctest --build-and-test, whose build
# step runs make with one job whatever the environment says: the consumer
# compiles the whole library, and one job doubles the test's time.
foreach(variable SOURCE_DIR BINARY_DIR JOBS)
  if(NOT DEFINED ${variable} OR "${${variable}}" STREQUAL "")
    message(FATAL_ERROR "build_subproject.cmake: pass -D${variable}=...")
  endif()
endforeach()
string(REPLACE "|" ";" options "${OPTIONS}")

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "build_subproject.cmake: ${what} failed (${result}): ${ARGN}")
  endif()
endfunction()

run_step("configure" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" ${options})
run_step("build" "${CMAKE_COMMAND}" --build "${BINARY_DIR}" --parallel "${JOBS}")
run_step("the consumer" "${BINARY_DIR}/consumer")
