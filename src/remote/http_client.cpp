#include "remote/http_client.hpp"

#include <curl/curl.h>

#include "inferloop/error.hpp"

namespace inferloop::detail {
namespace {

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

}  // namespace

HttpClient::HttpClient(std::chrono::milliseconds connect_timeout,
                       std::chrono::milliseconds total_timeout)
    : curl_(connect_timeout) {
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  // curl waits for "100 Continue" before sending a large body; servers here
  // never need that round trip.
  headers = curl_slist_append(headers, "Expect:");
  json_headers_ = headers;
  CURL* curl = curl_.get();
  // One small request at a time: send it at once.
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(total_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append_body);
}

HttpClient::~HttpClient() { curl_slist_free_all(json_headers_); }

void HttpClient::get(const std::string& url, HttpResponse& response) {
  CURL* curl = curl_.get();
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  perform(url, response);
}

void HttpClient::post_json(const std::string& url, const std::string& body,
                           HttpResponse& response) {
  CURL* curl = curl_.get();
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, json_headers_);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  perform(url, response);
}

void HttpClient::perform(const std::string& url, HttpResponse& response) {
  CURL* curl = curl_.get();
  response.status = 0;
  response.body.clear();
  response.transport_error.clear();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  const CURLcode code = curl_.perform();
  if (code != CURLE_OK) {
    response.transport_error = curl_.error_text(code);
    return;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
}

}  // namespace inferloop::detail
