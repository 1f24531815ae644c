# Install the build into a scratch prefix and check that every file a
# deployment needs is there (run by ctest as `cmake -P`).
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
foreach(f
    bin/newsalert bin/newsalert-fetcher bin/newsalert-matcher bin/newsalert-notifier
    etc/newsalert/examples/production/newsalert.json
    etc/newsalert/examples/production/feeds.json
    etc/newsalert/examples/production/rules.json
    etc/newsalert/examples/demo/newsalert.json
    lib/systemd/system/newsalert-fetcher.service
    lib/systemd/system/newsalert-matcher.service
    lib/systemd/system/newsalert-notifier.service
    lib/sysusers.d/newsalert.conf)
  if(NOT EXISTS "${PREFIX}/${f}")
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
if(EXISTS "${PREFIX}/etc/newsalert/examples/demo/var")
  message(FATAL_ERROR "demo state (var/) was installed")
endif()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "install layout OK")
