# The ocs library as a package for other CMake projects:
#   find_package(ocs REQUIRED)
#   target_link_libraries(app PRIVATE ocs::ocs)
# ocs::ocs is libocs.so: the installed API of include/ocs/ (ocs/ocs.h, ocs/errors.h), implemented
# by src/api/ over the rest of the library, which is linked in privately, so a consumer needs
# neither the headers of src/ nor ocs's own dependencies' CMake packages (ONNX, oneDNN, fmt, ...):
# only their shared libraries at run time. Installed by `cmake --install build --prefix PREFIX`
# (component `ocs`; the Python module is the separate component `python`, python/CMakeLists.txt).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

file(GLOB OCS_API_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/api/*.cpp)
add_library(ocs_shared SHARED ${OCS_API_SOURCES})
set_target_properties(ocs_shared PROPERTIES OUTPUT_NAME ocs EXPORT_NAME ocs
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
target_include_directories(ocs_shared PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(ocs_shared PUBLIC cxx_std_17)
target_compile_definitions(ocs_shared PRIVATE OCS_VERSION="${PROJECT_VERSION}")
target_link_libraries(ocs_shared PRIVATE ocs_lib)
add_library(ocs::ocs ALIAS ocs_shared)

install(TARGETS ocs_shared EXPORT ocsTargets COMPONENT ocs
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ocs DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT ocs)
install(TARGETS ocs RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ocs)
install(EXPORT ocsTargets NAMESPACE ocs:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ocs COMPONENT ocs)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ocsConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ocsConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ocs)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ocsConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ocsConfig.cmake ${PROJECT_BINARY_DIR}/ocsConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ocs COMPONENT ocs)
