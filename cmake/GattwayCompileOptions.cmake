# Warnings for the project's own code. Generated code (protobuf, gRPC) is compiled without them.
# The project's compiler is gcc 12; the clang build of the fuzz targets keeps the warnings but not
# -Werror (clang's set differs, and gcc-only pragmas are unknown to it).
function(gattway_strict_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
