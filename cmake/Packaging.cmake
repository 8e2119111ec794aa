# `cpack -G DEB` (in the build dir) makes gatherd_<version>_<arch>.deb from the `runtime`
# install component: the binary in /usr/bin, the plugins in /usr/lib/gatherd/plugins, the
# dashboard in /usr/share/gatherd/web (built first: web/dist), the config in /etc/gatherd (a
# conffile, its defaults pointing at these paths), the systemd unit, and maintainer scripts
# that create the `gatherd` system user and /var/lib/gatherd. Dependencies: dpkg-shlibdeps.
set(GATHERD_WEB_DIST "${CMAKE_SOURCE_DIR}/web/dist" CACHE PATH "The built dashboard the package ships")

if(TARGET gatherd)
  install(TARGETS gatherd RUNTIME DESTINATION bin COMPONENT runtime)
endif()
# The plugins: gatherd_add_plugin() installs each into GATHERD_PLUGIN_INSTALL_DIR.

# The shipped config is conf/gatherd.ini with the defaults of this layout.
file(READ "${CMAKE_SOURCE_DIR}/conf/gatherd.ini" gatherd_ini)
foreach(pair
    "\${GATHERD_PLUGIN_DIR:-../build/plugins}|\${GATHERD_PLUGIN_DIR:-/usr/lib/gatherd/plugins}"
    "\${GATHERD_DATA_DIR:-../data}|\${GATHERD_DATA_DIR:-/var/lib/gatherd}"
    "\${GATHERD_WEB_ROOT:-../web/dist}|\${GATHERD_WEB_ROOT:-/usr/share/gatherd/web}")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  string(FIND "${gatherd_ini}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "cmake/Packaging.cmake: conf/gatherd.ini no longer has '${from}'")
  endif()
  string(REPLACE "${from}" "${to}" gatherd_ini "${gatherd_ini}")
endforeach()
# The token from the environment (GATHERD_HTTP_TOKEN; empty: none), for binds beyond loopback.
string(REPLACE "; token = \${GATHERD_HTTP_TOKEN}" "token = \${GATHERD_HTTP_TOKEN:-}"
       gatherd_ini "${gatherd_ini}")
file(WRITE "${CMAKE_BINARY_DIR}/package/gatherd.ini" "${gatherd_ini}")
install(FILES "${CMAKE_BINARY_DIR}/package/gatherd.ini" DESTINATION /etc/gatherd COMPONENT runtime)
install(FILES "${CMAKE_SOURCE_DIR}/conf/gatherd.service" DESTINATION /lib/systemd/system
        COMPONENT runtime)
install(FILES "${CMAKE_SOURCE_DIR}/packaging/debian/copyright" DESTINATION share/doc/gatherd
        COMPONENT runtime)
# Debian wants a compressed changelog (changelog.gz: a native package); gzip -n: reproducible.
add_custom_command(OUTPUT "${CMAKE_BINARY_DIR}/package/changelog.gz"
  COMMAND gzip -9nc "${CMAKE_SOURCE_DIR}/packaging/debian/changelog"
          > "${CMAKE_BINARY_DIR}/package/changelog.gz"
  DEPENDS "${CMAKE_SOURCE_DIR}/packaging/debian/changelog" VERBATIM)
add_custom_target(gatherd_package_changelog ALL
  DEPENDS "${CMAKE_BINARY_DIR}/package/changelog.gz")
install(FILES "${CMAKE_BINARY_DIR}/package/changelog.gz" DESTINATION share/doc/gatherd
        COMPONENT runtime)
# The manual page, compressed the same way (lintian: manpage-not-compressed-with-max-compression).
add_custom_command(OUTPUT "${CMAKE_BINARY_DIR}/package/gatherd.8.gz"
  COMMAND gzip -9nc "${CMAKE_SOURCE_DIR}/packaging/debian/gatherd.8"
          > "${CMAKE_BINARY_DIR}/package/gatherd.8.gz"
  DEPENDS "${CMAKE_SOURCE_DIR}/packaging/debian/gatherd.8" VERBATIM)
add_custom_target(gatherd_package_manpage ALL DEPENDS "${CMAKE_BINARY_DIR}/package/gatherd.8.gz")
install(FILES "${CMAKE_BINARY_DIR}/package/gatherd.8.gz" DESTINATION share/man/man8
        COMPONENT runtime)
install(CODE "
  if(NOT EXISTS \"${GATHERD_WEB_DIST}/index.html\")
    message(FATAL_ERROR \"no dashboard in ${GATHERD_WEB_DIST}: build it first (build_web in scripts/setup.sh)\")
  endif()" COMPONENT runtime)
install(DIRECTORY "${GATHERD_WEB_DIST}/" DESTINATION share/gatherd/web COMPONENT runtime
        OPTIONAL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gatherd)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "gatherd maintainers <gatherd@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "plugin-based collector daemon with a live web dashboard")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "gatherd polls its source plugins on wall-clock aligned windows, stores every\nrecord once (SQLite) and serves a live dashboard over HTTP. Runs as the\nsystemd service gatherd.service.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# The xychatai source speaks HTTPS; Docker's stage installs it explicitly (no recommends there).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS OFF)
# Root-owned files whatever the builder's umask (lintian: no group-writable files).
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
configure_file("${CMAKE_SOURCE_DIR}/packaging/debian/conffiles" "${CMAKE_BINARY_DIR}/package/control/conffiles" COPYONLY)
foreach(script postinst postrm)
  configure_file("${CMAKE_SOURCE_DIR}/packaging/debian/${script}" "${CMAKE_BINARY_DIR}/package/control/${script}"
                 COPYONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                 GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_BINARY_DIR}/package/control/conffiles;${CMAKE_BINARY_DIR}/package/control/postinst;${CMAKE_BINARY_DIR}/package/control/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
