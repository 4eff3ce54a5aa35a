// A minimal HTTP/1.0 GET for tests (the Prometheus endpoint): returns the body, or "" on failure.
#pragma once

#include <string>

namespace gattway::testing {

std::string httpGet(int port, const std::string& path);

}  // namespace gattway::testing
