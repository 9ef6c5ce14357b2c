// Hermetic tests of the remote predictors' wire format and error paths: no
// server needed. The float round trip is checked on every float class that
// matters (subnormals, extremes, values whose shortest decimal is short).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "inferloop/error.hpp"
#include "inferloop/remote.hpp"
#include "remote/wire_format.hpp"

namespace inferloop {
namespace {

using nlohmann::json;

RemoteOptions options_for(RemoteProtocol protocol, std::size_t features) {
  RemoteOptions options;
  options.protocol = protocol;
  options.endpoints = {"http://127.0.0.1:1"};
  options.model_name = "xgb";
  options.num_features = features;
  return options;
}

std::vector<float> awkward_floats() {
  std::vector<float> values = {0.1F,
                               1.0F / 3.0F,
                               -2.5F,
                               0.0F,
                               -0.0F,
                               std::numeric_limits<float>::min(),
                               std::numeric_limits<float>::denorm_min(),
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::lowest(),
                               16777217.0F,
                               std::nextafter(1.0F, 2.0F)};
  std::mt19937 random(7);
  for (int i = 0; i < 2000; ++i) {
    values.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(random()) & 0xBF7FFFFFU));
  }
  return values;
}

// What a Python server does: parse the JSON number as a double, cast to float32.
TEST(RemoteWireFormat, EveryFloatReachesTheServerBitForBit) {
  const std::vector<float> values = awkward_floats();
  for (RemoteProtocol protocol :
       {RemoteProtocol::kKServeV2, RemoteProtocol::kMlflowScoring, RemoteProtocol::kRayServe}) {
    SCOPED_TRACE(std::string(to_string(protocol)));
    const std::string body = detail::encode_request(options_for(protocol, 1), values, values.size());
    const json parsed = json::parse(body);
    std::vector<double> received;
    if (protocol == RemoteProtocol::kKServeV2) {
      const json& input = parsed["inputs"][0];
      EXPECT_EQ(input["datatype"], "FP32");
      EXPECT_EQ(input["shape"], json::array({values.size(), 1}));
      for (const json& number : input["data"]) received.push_back(number.get<double>());
    } else {
      const json& rows = protocol == RemoteProtocol::kRayServe ? parsed["array"]
                                                                : parsed["dataframe_split"]["data"];
      for (const json& row : rows) received.push_back(row.at(0).get<double>());
    }
    ASSERT_EQ(received.size(), values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      ASSERT_EQ(std::bit_cast<std::uint32_t>(static_cast<float>(received[i])),
                std::bit_cast<std::uint32_t>(values[i]))
          << "value " << i;
    }
  }
}

TEST(RemoteWireFormat, NanIsSentAsNull) {
  const std::vector<float> row = {1.0F, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_EQ(detail::encode_request(options_for(RemoteProtocol::kRayServe, 2), row, 1),
            R"({"array":[[1.0,null]]})");
  RemoteOptions mlflow = options_for(RemoteProtocol::kMlflowScoring, 2);
  mlflow.feature_names = {"a", "b"};
  EXPECT_EQ(detail::encode_request(mlflow, row, 1),
            R"({"dataframe_split":{"columns":["a","b"],"data":[[1.0,null]]}})");
  EXPECT_EQ(detail::encode_request(options_for(RemoteProtocol::kKServeV2, 2), row, 1),
            R"({"inputs":[{"data":[1.0,null],"datatype":"FP32","name":"input-0","shape":[1,2]}]})");
}

TEST(RemoteWireFormat, AnswersOfEachProtocol) {
  std::vector<float> values;
  detail::decode_response(RemoteProtocol::kKServeV2,
                          R"({"model_name":"m","outputs":[{"name":"predict","shape":[2,1],)"
                          R"("datatype":"FP32","data":[0.25,0.5]}]})",
                          "http://h/v2", values);
  EXPECT_EQ(values, (std::vector<float>{0.25F, 0.5F}));
  detail::decode_response(RemoteProtocol::kMlflowScoring, R"({"predictions":[[0.1,0.9],[0.3,0.7]]})",
                          "http://h/invocations", values);
  EXPECT_EQ(values, (std::vector<float>{0.1F, 0.9F, 0.3F, 0.7F}));
  detail::decode_response(RemoteProtocol::kRayServe, R"([{"predictions":0.75},{"predictions":null}])",
                          "http://h/xgb/", values);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0], 0.75F);
  EXPECT_TRUE(std::isnan(values[1]));
}

// A float32 the server wrote as a Python float (its exact double) comes back exactly.
TEST(RemoteWireFormat, AnswersRoundTripFloat32) {
  for (float value : awkward_floats()) {
    const std::string body = json{{"predictions", {static_cast<double>(value)}}}.dump();
    std::vector<float> values;
    detail::decode_response(RemoteProtocol::kMlflowScoring, body, "u", values);
    ASSERT_EQ(values.size(), 1u);
    ASSERT_EQ(std::bit_cast<std::uint32_t>(values[0]), std::bit_cast<std::uint32_t>(value));
  }
}

std::string decode_error(RemoteProtocol protocol, const std::string& body) {
  std::vector<float> values;
  try {
    detail::decode_response(protocol, body, "http://h:1/invocations", values);
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "accepted " << body;
  return {};
}

TEST(RemoteWireFormat, BadAnswersNameTheUrlAndTheBody) {
  EXPECT_EQ(decode_error(RemoteProtocol::kKServeV2, R"({"predictions":[1]})"),
            "the answer of http://h:1/invocations is not KServe v2's: expected "
            R"({"outputs": [{"data": [...]}]}, found {"predictions":[1]})");
  EXPECT_EQ(decode_error(RemoteProtocol::kMlflowScoring, R"({"predictions":["up"]})"),
            "the answer of http://h:1/invocations holds string \"up\" where a number was "
            "expected; is this endpoint serving a regression or classification model that "
            "answers numbers?");
  EXPECT_NE(decode_error(RemoteProtocol::kRayServe, "<html>").find("is not JSON"),
            std::string::npos);
}

TEST(RemoteWireFormat, UrlsOfEachProtocol) {
  const RemoteOptions v2 = options_for(RemoteProtocol::kKServeV2, 1);
  EXPECT_EQ(detail::predict_url(v2, "http://h:8/"), "http://h:8/v2/models/xgb/infer");
  EXPECT_EQ(detail::readiness_urls(v2, "http://h:8"),
            (std::vector<std::string>{"http://h:8/v2/health/ready", "http://h:8/v2/models/xgb/ready"}));
  EXPECT_EQ(detail::predict_url(options_for(RemoteProtocol::kMlflowScoring, 1), "http://h:8/p"),
            "http://h:8/p/invocations");
  EXPECT_EQ(detail::predict_url(options_for(RemoteProtocol::kRayServe, 1), "http://h:8"),
            "http://h:8/xgb/");
}

TEST(RemoteWireFormat, ServerMessageTakesTheErrorField) {
  EXPECT_EQ(detail::server_message(R"({"error_code":"BAD_REQUEST","message":"no column f9"})"),
            "no column f9");
  EXPECT_EQ(detail::server_message(R"({"error":"Model xgb not found"})"), "Model xgb not found");
  EXPECT_EQ(detail::server_message("Not Found"), "Not Found");
}

// A closed loopback port: construction fails naming the URL and the reason.
TEST(RemoteEndpointsErrors, NoReadyEndpointNamesEachUrl) {
  RemoteOptions options = options_for(RemoteProtocol::kMlflowScoring, 3);
  options.endpoints = {"http://127.0.0.1:1", "http://127.0.0.1:2/"};
  try {
    RemoteEndpoints endpoints(options);
    FAIL() << "constructed with no server listening";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("no MLflow scoring endpoint is ready"), std::string::npos) << message;
    EXPECT_NE(message.find("GET http://127.0.0.1:1/ping failed: "), std::string::npos) << message;
    EXPECT_NE(message.find("GET http://127.0.0.1:2/ping failed: "), std::string::npos) << message;
    EXPECT_NE(message.find("start the server(s) or fix `endpoints`"), std::string::npos) << message;
  }
}

std::string options_error(const RemoteOptions& options) {
  try {
    RemoteEndpoints endpoints(options);
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "options accepted";
  return {};
}

TEST(RemoteEndpointsErrors, BadOptionsSayWhatToSet) {
  RemoteOptions options = options_for(RemoteProtocol::kKServeV2, 3);
  options.endpoints.clear();
  EXPECT_EQ(options_error(options),
            "KServe v2 remote predictor: no endpoints; set `endpoints: [\"http://host:port\"]` in "
            "the config (or RemoteOptions::endpoints)");
  options = options_for(RemoteProtocol::kRayServe, 3);
  options.model_name.clear();
  EXPECT_EQ(options_error(options),
            "Ray Serve remote predictor: no model name; set `deployment_name` in the config (the "
            "Ray Serve route prefix, without slashes)");
  options = options_for(RemoteProtocol::kMlflowScoring, 0);
  EXPECT_NE(options_error(options).find("set `num_features` in the config"), std::string::npos);
  options = options_for(RemoteProtocol::kMlflowScoring, 2);
  options.endpoints = {"127.0.0.1:8080"};
  EXPECT_NE(options_error(options).find("\"127.0.0.1:8080\" is not an http:// or https:// URL"),
            std::string::npos);
}

}  // namespace
}  // namespace inferloop
