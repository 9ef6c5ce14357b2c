// HttpClient: one libcurl easy handle, reused for every request so that its
// connections stay open (HTTP keep-alive) between predictions.
//
// Threads: one thread at a time per client (libcurl's rule for an easy
// handle). Each replica and the health-check thread own their own client.
#pragma once

#include "net/curl_handle.hpp"

#include <array>
#include <chrono>
#include <string>

namespace inferloop::detail {

struct HttpResponse {
  // 0 when no HTTP answer came back (see transport_error).
  long status = 0;
  std::string body;
  // libcurl's description of a transport failure (refused, reset, timeout);
  // empty when an HTTP answer came back, whatever its status.
  std::string transport_error;
};

class HttpClient {
 public:
  HttpClient(std::chrono::milliseconds connect_timeout, std::chrono::milliseconds total_timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Never throws for network or HTTP errors: they are in the response.
  // `response` is reused so that its body buffer keeps its capacity.
  void get(const std::string& url, HttpResponse& response);
  void post_json(const std::string& url, const std::string& body, HttpResponse& response);

 private:
  void perform(const std::string& url, HttpResponse& response);

  CurlHandle curl_;
  curl_slist* json_headers_;  // Content-Type, and no "Expect: 100-continue"
};

}  // namespace inferloop::detail
