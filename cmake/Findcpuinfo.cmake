# Findcpuinfo: locates cpuinfo's header and library and defines the imported target
# cpuinfo::cpuinfo, the name cpuinfo's own CMake package uses.
#
# Why qk ships this: Debian 12's libcpuinfo-dev installs a cpuinfo-config.cmake whose import
# prefix resolves to /usr/lib (it expects lib/cmake/ two levels deeper), so every target it
# defines points at /usr/lib/lib/x86_64-linux-gnu/... and find_package(cpuinfo CONFIG) is a
# fatal error. Module mode is searched first, so this file wins wherever it is on
# CMAKE_MODULE_PATH; on a system with a working config package the result is the same target.
find_path(cpuinfo_INCLUDE_DIR cpuinfo.h)
find_library(cpuinfo_LIBRARY cpuinfo)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(cpuinfo REQUIRED_VARS cpuinfo_LIBRARY cpuinfo_INCLUDE_DIR)

if(cpuinfo_FOUND AND NOT TARGET cpuinfo::cpuinfo)
  add_library(cpuinfo::cpuinfo UNKNOWN IMPORTED)
  set_target_properties(cpuinfo::cpuinfo PROPERTIES
    IMPORTED_LOCATION "${cpuinfo_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${cpuinfo_INCLUDE_DIR}")
endif()
mark_as_advanced(cpuinfo_INCLUDE_DIR cpuinfo_LIBRARY)
