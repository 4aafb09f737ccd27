# Builds and runs tests/package/consumer against qk one way (MODE), from scratch:
#   install       configure qk alone (tests off), `cmake --install` it into WORK_DIR/prefix, and
#                 find_package(qk CONFIG REQUIRED) it from there;
#   subdirectory  add_subdirectory(<qk source>);
#   fetchcontent  FetchContent_Declare(qk SOURCE_DIR <qk source>) (local, no network).
# Usage: cmake -DMODE=... -DQK_SOURCE_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=...
#              [-DCXX_COMPILER=...] [-DGENERATOR=...] [-DEXPECTED_VERSION=...] -P run_consumer.cmake
cmake_minimum_required(VERSION 3.16)
foreach(var MODE QK_SOURCE_DIR CONSUMER_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run step)
  message(STATUS "[${MODE}] ${step}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[${MODE}] ${step} failed (${rc})")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(common_args "")
if(CXX_COMPILER)
  list(APPEND common_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(GENERATOR)
  list(APPEND common_args -G ${GENERATOR})
endif()
# Never pick qk up from a user package registry: only what this test installed counts.
list(APPEND common_args -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_BUILD_TYPE=Release)

set(consumer_args -DQK_CONSUMER_MODE=${MODE} -DQK_SOURCE_DIR=${QK_SOURCE_DIR})
if(EXPECTED_VERSION)
  list(APPEND consumer_args -DQK_EXPECTED_VERSION=${EXPECTED_VERSION})
endif()

if(MODE STREQUAL "install")
  run("configure qk" ${CMAKE_COMMAND} -S ${QK_SOURCE_DIR} -B ${WORK_DIR}/qk-build ${common_args}
      -DQK_BUILD_TESTS=OFF -DQK_BUILD_BENCHMARKS=OFF -DQK_BUILD_EXAMPLES=OFF -DQK_INSTALL=ON)
  run("install qk" ${CMAKE_COMMAND} --install ${WORK_DIR}/qk-build --prefix ${WORK_DIR}/prefix)
  # The installed tree must hold the package files and the headers, nothing from the build.
  foreach(f include/qk/qk.hpp include/qk/version.hpp share/qk/src/qk_compiled.cpp share/cmake/qk/qkConfig.cmake
            share/cmake/qk/qkConfigVersion.cmake share/cmake/qk/qkTargets.cmake)
    if(NOT EXISTS ${WORK_DIR}/prefix/${f})
      message(FATAL_ERROR "[install] ${f} missing from the installed tree")
    endif()
  endforeach()
  list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
elseif(NOT MODE STREQUAL "subdirectory" AND NOT MODE STREQUAL "fetchcontent")
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()

run("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/consumer-build ${common_args} ${consumer_args})
run("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
run("run consumer" ${WORK_DIR}/consumer-build/qk_consumer_app)
if(MODE STREQUAL "install")
  run("run compiled-mode consumer" ${WORK_DIR}/consumer-build/qk_consumer_compiled)
endif()
