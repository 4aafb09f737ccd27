# qk_optional_package(NAME [TARGET tgt] [MESSAGE text]) - find_package(NAME CONFIG) for an
# optional peer without letting a broken package fail qk's configure.
#
# A package's own config file can fail the whole configure with no way to catch it: Debian 12's
# dnnl-config.cmake calls find_package(OpenCL REQUIRED), and libdnnl-dev only *recommends*
# ocl-icd-opencl-dev, so a machine without it cannot configure any project that asks for oneDNN,
# even QUIET. So the package is first found in a throw-away CMake project (cmake/probe/); only
# if that succeeds and defines TARGET is it found here for real. On failure NAME_FOUND is FALSE
# and one line says why, e.g. "qk: optional peer dnnl unusable (...): its benchmark columns are off".
function(qk_optional_package name)
  cmake_parse_arguments(ARG "" "TARGET" "" ${ARGN})
  set(probe_dir ${CMAKE_BINARY_DIR}/qk-probe/${name})
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S ${PROJECT_SOURCE_DIR}/cmake/probe -B ${probe_dir}
            -DQK_PROBE_PACKAGE=${name} -DQK_PROBE_TARGET=${ARG_TARGET}
            "-DCMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH}" "-DCMAKE_MODULE_PATH=${CMAKE_MODULE_PATH}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REGEX MATCH "Could NOT find [^\n]*|QK_PROBE: [^\n]*" why "${err}${out}")
    if(NOT why)
      set(why "its CMake package failed to configure; see ${probe_dir}/CMakeFiles/CMakeOutput.log")
    endif()
    message(STATUS "qk: optional peer ${name} unusable (${why}): its benchmark columns are off")
    set(${name}_FOUND FALSE PARENT_SCOPE)
    return()
  endif()
  find_package(${name} CONFIG QUIET)
  if(${name}_FOUND AND (NOT ARG_TARGET OR TARGET ${ARG_TARGET}))
    set(${name}_FOUND TRUE PARENT_SCOPE)
  else()
    message(STATUS "qk: optional peer ${name} not found: its benchmark columns are off")
    set(${name}_FOUND FALSE PARENT_SCOPE)
  endif()
endfunction()
