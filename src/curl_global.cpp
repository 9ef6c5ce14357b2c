#include "curl_global.hpp"

#include <curl/curl.h>

#include <mutex>

#include "inferloop/error.hpp"

namespace inferloop::detail {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error("libcurl's global initialisation failed; inferloop cannot make HTTP requests "
                  "(remote predictors, MLflow model URIs)");
    }
  });
}

}  // namespace inferloop::detail
