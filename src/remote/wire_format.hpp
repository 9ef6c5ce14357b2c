// The three protocols' request bodies, answers and URLs, as pure functions
// (no I/O), so their exactness can be tested without a server.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "inferloop/remote.hpp"

namespace inferloop::detail {

// "http://h:1/" + "/ping" -> "http://h:1/ping".
[[nodiscard]] std::string join_url(const std::string& base, const std::string& path);

// Where predictions are POSTed.
[[nodiscard]] std::string predict_url(const RemoteOptions& options, const std::string& base);
// GETs that must all answer 200 for the endpoint to be ready, in order.
[[nodiscard]] std::vector<std::string> readiness_urls(const RemoteOptions& options,
                                                      const std::string& base);

// The request body for `rows` rows of options.num_features features.
[[nodiscard]] std::string encode_request(const RemoteOptions& options,
                                         std::span<const float> features, std::size_t rows);

// Every number of the answer, in order (nested lists flattened; null = NaN),
// each parsed as double and cast to float. Throws inferloop::Error naming
// `url` when the body is not the protocol's answer.
void decode_response(RemoteProtocol protocol, const std::string& body, const std::string& url,
                     std::vector<float>& values);

// The server's own message from an error body: a JSON "error"/"message"/
// "detail" field, else the body's first 300 characters.
[[nodiscard]] std::string server_message(const std::string& body);

}  // namespace inferloop::detail
