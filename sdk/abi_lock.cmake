# Checks (or records) sdk/abi.lock: the hash of the sdk's public headers for the ABI version that
# sdk/include/gatherd/sdk/abi.hpp declares, so that a header change without a version bump fails
# a test ("sdk: the public headers match abi.lock").
#   check:  cmake -P sdk/abi_lock.cmake
#   record: cmake -DUPDATE=ON -P sdk/abi_lock.cmake   (after bumping kAbiMinor or kAbiMajor)
#   a change that cannot break a plugin (a comment): cmake -DUPDATE=ON -DSAME_ABI=ON -P ...
get_filename_component(sdk_dir "${CMAKE_CURRENT_LIST_DIR}" ABSOLUTE)
set(lock_file "${sdk_dir}/abi.lock")
# The interface headers and sdk/support (its code runs on both sides of the plugin boundary).
file(GLOB_RECURSE headers "${sdk_dir}/include/gatherd/sdk/*.hpp")
list(SORT headers)
set(listing "")
foreach(header IN LISTS headers)
  file(SHA256 "${header}" digest)
  file(RELATIVE_PATH name "${sdk_dir}/include/gatherd/sdk" "${header}")
  string(APPEND listing "${name} ${digest}\n")
endforeach()
string(SHA256 headers_hash "${listing}")

file(READ "${sdk_dir}/include/gatherd/sdk/abi.hpp" abi)
string(REGEX MATCH "kAbiMajor = ([0-9]+)" _ "${abi}")
set(major "${CMAKE_MATCH_1}")
string(REGEX MATCH "kAbiMinor = ([0-9]+)" _ "${abi}")
set(minor "${CMAKE_MATCH_1}")
if(major STREQUAL "" OR minor STREQUAL "")
  message(FATAL_ERROR "abi.hpp: kAbiMajor / kAbiMinor not found")
endif()
set(version "${major}.${minor}")

set(locked_version "")
set(locked_hash "")
if(EXISTS "${lock_file}")
  file(STRINGS "${lock_file}" entry REGEX "^abi [0-9]+\\.[0-9]+ [0-9a-f]+$")
  if(entry MATCHES "^abi ([0-9]+\\.[0-9]+) ([0-9a-f]+)$")
    set(locked_version "${CMAKE_MATCH_1}")
    set(locked_hash "${CMAKE_MATCH_2}")
  endif()
endif()

if(UPDATE)
  if(locked_version STREQUAL version AND NOT locked_hash STREQUAL headers_hash AND NOT SAME_ABI)
    message(FATAL_ERROR "the sdk headers changed but abi.hpp still says ABI ${version}: bump "
                        "kAbiMinor (a compatible addition) or kAbiMajor (a break) first, or pass "
                        "-DSAME_ABI=ON if the change cannot affect a plugin binary (a comment)")
  endif()
  file(WRITE "${lock_file}"
       "# The sdk's public headers (sdk/include/gatherd/sdk/**/*.hpp) as of the ABI version below;\n"
       "# written by `cmake -DUPDATE=ON -P sdk/abi_lock.cmake`, checked by a test. Do not edit.\n"
       "abi ${version} ${headers_hash}\n")
  message(STATUS "sdk/abi.lock: ABI ${version}")
  return()
endif()

if(NOT locked_version STREQUAL version)
  message(FATAL_ERROR "abi.hpp says ABI ${version}, sdk/abi.lock records ${locked_version}: "
                      "record the headers of the new version with "
                      "`cmake -DUPDATE=ON -P sdk/abi_lock.cmake`")
endif()
if(NOT locked_hash STREQUAL headers_hash)
  message(FATAL_ERROR "the sdk's public headers changed but the ABI is still ${version}: bump "
                      "kAbiMinor or kAbiMajor in sdk/include/gatherd/sdk/abi.hpp and record it "
                      "with `cmake -DUPDATE=ON -P sdk/abi_lock.cmake` (headers now:\n${listing})")
endif()
message(STATUS "sdk headers match abi.lock (ABI ${version})")
