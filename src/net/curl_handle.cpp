// CurlHandle: see curl_handle.hpp.
#include "net/curl_handle.hpp"

#include <mutex>

#include "inferloop/error.hpp"

namespace inferloop::detail {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error("libcurl's global initialisation failed; inferloop cannot make HTTP requests "
                  "(remote predictors, MLflow and S3 model URIs)");
    }
  });
}

CurlHandle::CurlHandle(std::chrono::milliseconds connect_timeout) {
  init_curl_once();
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw Error("curl_easy_init failed (out of memory?)");
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl_, CURLOPT_USERAGENT, "inferloop");
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_buffer_.data());
}

CurlHandle::~CurlHandle() { curl_easy_cleanup(curl_); }

CURLcode CurlHandle::perform() noexcept {
  error_buffer_[0] = '\0';
  return curl_easy_perform(curl_);
}

std::string CurlHandle::error_text(CURLcode code) const {
  std::string text = curl_easy_strerror(code);
  if (error_buffer_[0] != '\0') text += std::string(": ") + error_buffer_.data();
  return text;
}

}  // namespace inferloop::detail
