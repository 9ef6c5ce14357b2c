// CurlHandle: one libcurl easy handle with the set-up every HTTP client in
// inferloop shares (the remote predictors' HttpClient, the MLflow and S3
// RestClient), and libcurl's process-wide initialisation beside it.
//
// Shared set-up: no signals (signals are process-wide and clients run on
// several threads), TCP keep-alive (a handle is reused for every request of
// its client), the "inferloop" user agent, a connect timeout, and an error
// buffer that error_text() reads. Each client adds what is its own
// (headers, callbacks, TLS, total timeouts).
//
// Lifecycle: RAII; one thread uses a handle at a time (libcurl's rule).
#pragma once

#include <curl/curl.h>

#include <array>
#include <chrono>
#include <string>

namespace inferloop::detail {

// Calls curl_global_init once per process, before the first easy handle: it
// is not thread-safe in older libcurl. Never cleaned up, since other code in
// the process may use curl too. Throws inferloop::Error if it fails.
void init_curl_once();

class CurlHandle {
 public:
  // Throws inferloop::Error when libcurl cannot make a handle.
  explicit CurlHandle(std::chrono::milliseconds connect_timeout);
  ~CurlHandle();
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;

  [[nodiscard]] CURL* get() const noexcept { return curl_; }

  // Runs the transfer set up on get(); CURLE_OK or why it failed (error_text).
  CURLcode perform() noexcept;
  // What went wrong with the last transfer: the code's text, then libcurl's
  // own detail when it wrote one ("Couldn't connect to server: Failed to
  // connect to 127.0.0.1 port 9 ...").
  [[nodiscard]] std::string error_text(CURLcode code) const;

 private:
  CURL* curl_ = nullptr;
  std::array<char, CURL_ERROR_SIZE> error_buffer_{};
};

}  // namespace inferloop::detail
