# Install rules: headers, the library (static by default, shared with
# BUILD_SHARED_LIBS=ON), the inferloop CLI when it is built, and a CMake package
# so that consumers write find_package(inferloop CONFIG REQUIRED) and link
# inferloop::inferloop.
#
# A static inferloop carries its PRIVATE dependencies as $<LINK_ONLY:...> in the
# export, and a shared one needs them found for the linker's -rpath-link, so the
# installed config must recreate exactly the targets the export names. Rather
# than keep a hand-written list in step with CMakeLists.txt, the list is computed
# below from the library's link properties; header-only dependencies that the
# export does not name (those linked through $<BUILD_INTERFACE:...>) cost the
# consumer nothing. XGBoost is not a CMake package everywhere (the PyPI wheel has
# none), so the config includes the installed InferloopXGBoost.cmake, which
# defines the same inferloop_xgboost target the build used, defaulting to the very
# library file the build used.
include_guard(DIRECTORY)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(INFERLOOP_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/inferloop" CACHE STRING
    "Where the inferloop CMake package files are installed, relative to the prefix")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/inferloop"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT inferloop_development
        FILES_MATCHING PATTERN "*.hpp")

get_target_property(_inferloop_type inferloop TYPE)
if(_inferloop_type STREQUAL "SHARED_LIBRARY")
  set_target_properties(inferloop PROPERTIES
    VERSION "${PROJECT_VERSION}"
    # Before 1.0 every minor release may break the ABI.
    SOVERSION "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}"
    # Keeps a non-system libxgboost (e.g. the PyPI wheel's) findable once installed.
    INSTALL_RPATH_USE_LINK_PATH ON)
endif()

# The installed target needs <prefix>/include: from the target's own
# $<INSTALL_INTERFACE:...> when that names a folder, else from INCLUDES DESTINATION.
get_target_property(_inferloop_includes inferloop INTERFACE_INCLUDE_DIRECTORIES)
set(_inferloop_includes_destination INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
if(_inferloop_includes MATCHES "\\$<INSTALL_INTERFACE:[^>]+>")
  set(_inferloop_includes_destination "")
endif()
install(TARGETS inferloop EXPORT inferloopTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT inferloop_development
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT inferloop_runtime
                NAMELINK_COMPONENT inferloop_development
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT inferloop_runtime
        ${_inferloop_includes_destination})

if(TARGET inferloop_cli)
  file(RELATIVE_PATH _inferloop_bin_to_lib
       "/prefix/${CMAKE_INSTALL_BINDIR}" "/prefix/${CMAKE_INSTALL_LIBDIR}")
  set_target_properties(inferloop_cli PROPERTIES
    INSTALL_RPATH_USE_LINK_PATH ON
    INSTALL_RPATH "$ORIGIN/${_inferloop_bin_to_lib}")
  install(TARGETS inferloop_cli
          RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT inferloop_runtime)
endif()

install(EXPORT inferloopTargets
        NAMESPACE inferloop::
        FILE inferloopTargets.cmake
        DESTINATION "${INFERLOOP_INSTALL_CMAKEDIR}"
        COMPONENT inferloop_development)

# Which dependency targets the export makes a consumer need.
#  - names in INTERFACE_LINK_LIBRARIES outside $<BUILD_INTERFACE:...> (PUBLIC ones,
#    and for a static library the PRIVATE ones as $<LINK_ONLY:...>);
#  - for a shared library, PRIVATE dependencies that are or wrap a linkable
#    library, which the export lists for -rpath-link.
get_target_property(_inferloop_interface inferloop INTERFACE_LINK_LIBRARIES)
get_target_property(_inferloop_links inferloop LINK_LIBRARIES)
set(_inferloop_needed "")
foreach(_item IN LISTS _inferloop_interface)
  # A static library's PRIVATE items arrive as $<LINK_ONLY:...>, possibly
  # around a $<BUILD_INTERFACE:...>: unwrap first, then skip build-only ones.
  string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" _item "${_item}")
  if(_item MATCHES "^\\$<BUILD_INTERFACE:")
    continue()
  endif()
  list(APPEND _inferloop_needed "${_item}")
endforeach()
if(_inferloop_type STREQUAL "SHARED_LIBRARY")
  foreach(_item IN LISTS _inferloop_links)
    if(TARGET "${_item}")
      get_target_property(_item_type "${_item}" TYPE)
      get_target_property(_item_links "${_item}" INTERFACE_LINK_LIBRARIES)
      if(NOT _item_type STREQUAL "INTERFACE_LIBRARY" OR _item_links)
        list(APPEND _inferloop_needed "${_item}")
      endif()
    endif()
  endforeach()
endif()
list(REMOVE_DUPLICATES _inferloop_needed)

set(INFERLOOP_CONFIG_DEPENDENCIES "")
foreach(_item IN LISTS _inferloop_needed)
  if(_item STREQUAL "Threads::Threads")
    string(APPEND INFERLOOP_CONFIG_DEPENDENCIES "find_dependency(Threads)\n")
  elseif(_item MATCHES "^yaml-cpp(::yaml-cpp)?$")
    string(APPEND INFERLOOP_CONFIG_DEPENDENCIES "find_dependency(yaml-cpp)\n")
  elseif(_item MATCHES "^Boost::")
    string(APPEND INFERLOOP_CONFIG_DEPENDENCIES "find_dependency(Boost ${Boost_VERSION_MAJOR}.${Boost_VERSION_MINOR})\n")
  elseif(_item STREQUAL "nlohmann_json::nlohmann_json")
    string(APPEND INFERLOOP_CONFIG_DEPENDENCIES "find_dependency(nlohmann_json)\n")
  elseif(_item STREQUAL "CURL::libcurl")
    string(APPEND INFERLOOP_CONFIG_DEPENDENCIES "find_dependency(CURL)\n")
  elseif(_item STREQUAL "pugixml::pugixml")
    string(APPEND INFERLOOP_CONFIG_DEPENDENCIES "find_dependency(pugixml)\n")
  elseif(_item MATCHES "^prometheus-cpp::")
    # One package defines every prometheus-cpp:: target: find it once.
    if(NOT INFERLOOP_CONFIG_DEPENDENCIES MATCHES "prometheus-cpp")
      string(APPEND INFERLOOP_CONFIG_DEPENDENCIES "find_dependency(prometheus-cpp CONFIG)\n")
    endif()
  elseif(_item MATCHES "^CUDA::")
    # The CUDA evaluator's runtime (INFERLOOP_WITH_CUDA).
    if(NOT INFERLOOP_CONFIG_DEPENDENCIES MATCHES "CUDAToolkit")
      string(APPEND INFERLOOP_CONFIG_DEPENDENCIES "find_dependency(CUDAToolkit)\n")
    endif()
  elseif(_item STREQUAL "inferloop_xgboost")
    string(APPEND INFERLOOP_CONFIG_DEPENDENCIES
           "include(\"\${CMAKE_CURRENT_LIST_DIR}/InferloopXGBoost.cmake\")\n")
  elseif(TARGET "${_item}" OR _item MATCHES "::")
    message(WARNING "inferloop: the installed package would reference the target '${_item}' but "
                    "cmake/InferloopInstall.cmake does not know which package defines it; add it "
                    "to the table there, or link it through $<BUILD_INTERFACE:...>.")
  endif()
endforeach()
list(REMOVE_DUPLICATES INFERLOOP_CONFIG_DEPENDENCIES)

# Route (a): the consumer links the very libxgboost file this build used, unless
# it sets INFERLOOP_XGBOOST_LIBRARY itself. Routes (b) and (c) search again on the
# consumer's machine.
set(INFERLOOP_CONFIG_XGBOOST_LIBRARY "")
if(INFERLOOP_XGBOOST_LIBRARY)
  set(INFERLOOP_CONFIG_XGBOOST_LIBRARY
      "if(NOT INFERLOOP_XGBOOST_LIBRARY)\n  set(INFERLOOP_XGBOOST_LIBRARY \"${INFERLOOP_XGBOOST_LIBRARY}\")\nendif()\n")
endif()
configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/inferloopConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/inferloopConfig.cmake"
  INSTALL_DESTINATION "${INFERLOOP_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/inferloopConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  # Before 1.0 a new minor release may break the API.
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/inferloopConfig.cmake"
              "${PROJECT_BINARY_DIR}/inferloopConfigVersion.cmake"
              "${CMAKE_CURRENT_LIST_DIR}/InferloopXGBoost.cmake"
        DESTINATION "${INFERLOOP_INSTALL_CMAKEDIR}"
        COMPONENT inferloop_development)

unset(_inferloop_type)
unset(_inferloop_includes)
unset(_inferloop_includes_destination)
unset(_inferloop_interface)
unset(_inferloop_links)
unset(_inferloop_needed)
unset(_inferloop_bin_to_lib)
unset(_item)
unset(_item_type)
unset(_item_links)
