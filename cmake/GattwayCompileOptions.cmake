# Warnings for the project's own code. Generated code (protobuf, gRPC) is compiled without them.
function(gattway_strict_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror)
endfunction()
