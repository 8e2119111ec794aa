# gatherd_add_plugin(ID <plugin id> TARGET <cmake target name>
#                    ENTRY <file with the GATHERD_*_PLUGIN macro>
#                    [SOURCES <logic files>] [LIBRARIES <libs>]
#                    [TEST_SOURCES <catch2 tests>] [TEST_LIBRARIES <libs>] [NO_INSTALL])
#
# Builds <TARGET>_logic (a static library of SOURCES, which tests link), the loadable module
# gatherd-<ID>.so in the plugin directory, and <TARGET>_tests when TEST_SOURCES are given.
# Used by in-tree plugins and, through the installed sdk package, by out-of-tree ones.
# NO_INSTALL: built and tested, never packaged (the example plugins).
function(gatherd_add_plugin)
  cmake_parse_arguments(P "NO_INSTALL" "ID;TARGET;ENTRY" "SOURCES;LIBRARIES;TEST_SOURCES;TEST_LIBRARIES" ${ARGN})
  if(NOT P_ID OR NOT P_TARGET OR NOT P_ENTRY)
    message(FATAL_ERROR "gatherd_add_plugin needs ID, TARGET and ENTRY")
  endif()
  if(TARGET gatherd_sdk)
    set(sdk_target gatherd_sdk)
  else()
    set(sdk_target gatherd::sdk)
  endif()

  set(logic_target "${P_TARGET}_logic")
  if(P_SOURCES)
    add_library(${logic_target} STATIC ${P_SOURCES})
    set_target_properties(${logic_target} PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                     CXX_VISIBILITY_PRESET hidden)
    target_include_directories(${logic_target} PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}/src")
    target_link_libraries(${logic_target} PUBLIC ${sdk_target} ${P_LIBRARIES})
  else()
    add_library(${logic_target} INTERFACE)
    target_link_libraries(${logic_target} INTERFACE ${sdk_target} ${P_LIBRARIES})
  endif()

  add_library(${P_TARGET} MODULE ${P_ENTRY})
  target_link_libraries(${P_TARGET} PRIVATE ${logic_target})
  if(NOT GATHERD_PLUGIN_OUTPUT_DIR)
    set(GATHERD_PLUGIN_OUTPUT_DIR "${CMAKE_BINARY_DIR}/plugins")
  endif()
  set_target_properties(${P_TARGET} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "gatherd-${P_ID}"
    CXX_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY "${GATHERD_PLUGIN_OUTPUT_DIR}")
  if(GATHERD_PLUGIN_INSTALL_DIR AND NOT P_NO_INSTALL)
    install(TARGETS ${P_TARGET} LIBRARY DESTINATION "${GATHERD_PLUGIN_INSTALL_DIR}"
            COMPONENT runtime)
  endif()

  if(P_TEST_SOURCES AND BUILD_TESTING)
    add_executable(${P_TARGET}_tests ${P_TEST_SOURCES})
    target_link_libraries(${P_TARGET}_tests PRIVATE ${logic_target} gatherd::sdk_testing
                          Catch2::Catch2WithMain ${P_TEST_LIBRARIES})
    target_compile_definitions(${P_TARGET}_tests PRIVATE
      GATHERD_PLUGIN_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}"
      GATHERD_PLUGIN_FILE="$<TARGET_FILE:${P_TARGET}>"
      GATHERD_BINARY_DIR="${CMAKE_BINARY_DIR}")
    add_dependencies(${P_TARGET}_tests ${P_TARGET})
    catch_discover_tests(${P_TARGET}_tests TEST_PREFIX "${P_ID}: "
                         PROPERTIES TIMEOUT 300)
  endif()
endfunction()
