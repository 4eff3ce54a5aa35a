// Sanitizer defaults for the test binaries (the ASan+UBSan build reads these at start-up; other
// builds never call them). e2e tests get the same settings through ctest's environment.
extern "C" {
const char* __asan_default_options() { return "detect_leaks=1:strict_string_checks=1"; }
const char* __lsan_default_options() {
  return "suppressions=" GATTWAY_SANITIZER_SUPPRESSIONS ":print_suppressions=0";
}
const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }
}
