// Request and answer bodies of the three remote protocols.
//
// Exactness: nlohmann::json writes a double with the shortest decimal form
// that reads back as the same double. Each feature float is widened to double
// first (exact), so the text reads back as exactly that double, and a server's
// cast to float32 (numpy, pandas, XGBoost's DMatrix) gives the original float.
// Writing the float's own shortest form instead ("0.1") would make the server
// round twice (decimal -> double -> float), which is not guaranteed to land on
// the same float32.
#include "remote/wire_format.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "inferloop/error.hpp"

namespace inferloop::detail {
namespace {

using nlohmann::json;

json number(float value) {
  if (std::isnan(value)) return nullptr;  // JSON has no NaN: a missing value
  return static_cast<double>(value);
}

json rows_of(std::span<const float> features, std::size_t rows, std::size_t cols) {
  json out = json::array();
  for (std::size_t row = 0; row < rows; ++row) {
    json values = json::array();
    for (std::size_t col = 0; col < cols; ++col) values.push_back(number(features[row * cols + col]));
    out.push_back(std::move(values));
  }
  return out;
}

void flatten(const json& node, const std::string& url, std::vector<float>& values) {
  if (node.is_array()) {
    for (const json& item : node) flatten(item, url, values);
  } else if (node.is_number()) {
    values.push_back(static_cast<float>(node.get<double>()));
  } else if (node.is_null()) {
    values.push_back(std::numeric_limits<float>::quiet_NaN());
  } else if (node.is_object() && node.size() == 1) {
    // A records-style answer: [{"predictions": 0.5}, ...]
    flatten(node.begin().value(), url, values);
  } else {
    throw Error("the answer of " + url + " holds " + std::string(node.type_name()) + " " +
                node.dump().substr(0, 80) + " where a number was expected; is this endpoint "
                "serving a regression or classification model that answers numbers?");
  }
}

std::string clipped(const std::string& text) {
  constexpr std::size_t kMax = 300;
  return text.size() <= kMax ? text : text.substr(0, kMax) + "...";
}

}  // namespace

std::string join_url(const std::string& base, const std::string& path) {
  std::string out = base;
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out + path;
}

std::string predict_url(const RemoteOptions& options, const std::string& base) {
  switch (options.protocol) {
    case RemoteProtocol::kKServeV2:
      return join_url(base, "/v2/models/" + options.model_name + "/infer");
    case RemoteProtocol::kMlflowScoring:
      return join_url(base, "/invocations");
    case RemoteProtocol::kRayServe:
      return join_url(base, "/" + options.model_name + "/");
  }
  return base;
}

std::vector<std::string> readiness_urls(const RemoteOptions& options, const std::string& base) {
  switch (options.protocol) {
    case RemoteProtocol::kKServeV2:
      return {join_url(base, "/v2/health/ready"),
              join_url(base, "/v2/models/" + options.model_name + "/ready")};
    case RemoteProtocol::kMlflowScoring:
      return {join_url(base, "/ping")};
    case RemoteProtocol::kRayServe:
      // The HTTP proxy's own health; a missing route shows up as HTTP 404 on
      // the first prediction, with Ray's message.
      return {join_url(base, "/-/healthz")};
  }
  return {};
}

std::string encode_request(const RemoteOptions& options, std::span<const float> features,
                           std::size_t rows) {
  const std::size_t cols = options.num_features;
  switch (options.protocol) {
    case RemoteProtocol::kKServeV2: {
      json data = json::array();
      for (std::size_t i = 0; i < rows * cols; ++i) data.push_back(number(features[i]));
      json input = {{"name", "input-0"},
                    {"shape", {rows, cols}},
                    {"datatype", "FP32"},
                    {"data", std::move(data)}};
      return json{{"inputs", json::array({std::move(input)})}}.dump();
    }
    case RemoteProtocol::kMlflowScoring: {
      json split = {{"data", rows_of(features, rows, cols)}};
      if (!options.feature_names.empty()) split["columns"] = options.feature_names;
      return json{{"dataframe_split", std::move(split)}}.dump();
    }
    case RemoteProtocol::kRayServe:
      return json{{"array", rows_of(features, rows, cols)}}.dump();
  }
  return {};
}

void decode_response(RemoteProtocol protocol, const std::string& body, const std::string& url,
                     std::vector<float>& values) {
  values.clear();
  json answer;
  try {
    answer = json::parse(body);
  } catch (const json::exception& error) {
    throw Error("the answer of " + url + " is not JSON (" + error.what() + "): " + clipped(body));
  }
  const char* expected = "";
  const json* payload = nullptr;
  switch (protocol) {
    case RemoteProtocol::kKServeV2:
      expected = "{\"outputs\": [{\"data\": [...]}]}";
      if (answer.is_object() && answer.contains("outputs") && answer["outputs"].is_array() &&
          !answer["outputs"].empty() && answer["outputs"][0].contains("data")) {
        payload = &answer["outputs"][0]["data"];
      }
      break;
    case RemoteProtocol::kMlflowScoring:
    case RemoteProtocol::kRayServe:
      expected = "{\"predictions\": [...]} or a list of numbers";
      if (answer.is_object() && answer.contains("predictions")) {
        payload = &answer["predictions"];
      } else if (answer.is_array()) {
        payload = &answer;
      }
      break;
  }
  if (payload == nullptr) {
    throw Error("the answer of " + url + " is not " + std::string(to_string(protocol)) +
                "'s: expected " + expected + ", found " + clipped(body));
  }
  flatten(*payload, url, values);
}

std::string server_message(const std::string& body) {
  try {
    const json error = json::parse(body);
    if (error.is_object()) {
      for (const char* key : {"error", "message", "detail"}) {
        if (error.contains(key)) {
          const json& field = error[key];
          return field.is_string() ? clipped(field.get<std::string>()) : clipped(field.dump());
        }
      }
    }
  } catch (const json::exception&) {
    // Not JSON: the text itself is the message.
  }
  return clipped(body);
}

}  // namespace inferloop::detail
