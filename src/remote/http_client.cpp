#include "remote/http_client.hpp"

#include <curl/curl.h>

#include "curl_global.hpp"
#include "inferloop/error.hpp"

namespace inferloop::detail {
namespace {

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

CURL* handle(void* curl) { return static_cast<CURL*>(curl); }

}  // namespace

HttpClient::HttpClient(std::chrono::milliseconds connect_timeout,
                       std::chrono::milliseconds total_timeout) {
  init_curl_once();
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw Error("curl_easy_init failed (out of memory?)");
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  // curl waits for "100 Continue" before sending a large body; servers here
  // never need that round trip.
  headers = curl_slist_append(headers, "Expect:");
  json_headers_ = headers;
  CURL* curl = handle(curl_);
  // Signals are process-wide and replicas run on several threads.
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(total_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append_body);
  static_assert(CURL_ERROR_SIZE <= std::tuple_size_v<decltype(error_buffer_)>);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer_.data());
}

HttpClient::~HttpClient() {
  curl_easy_cleanup(handle(curl_));
  curl_slist_free_all(static_cast<curl_slist*>(json_headers_));
}

void HttpClient::get(const std::string& url, HttpResponse& response) {
  CURL* curl = handle(curl_);
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  perform(url, response);
}

void HttpClient::post_json(const std::string& url, const std::string& body,
                           HttpResponse& response) {
  CURL* curl = handle(curl_);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(json_headers_));
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  perform(url, response);
}

void HttpClient::perform(const std::string& url, HttpResponse& response) {
  CURL* curl = handle(curl_);
  response.status = 0;
  response.body.clear();
  response.transport_error.clear();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  error_buffer_[0] = '\0';
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    response.transport_error =
        error_buffer_[0] != '\0' ? std::string(error_buffer_.data()) : curl_easy_strerror(code);
    return;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
}

}  // namespace inferloop::detail
