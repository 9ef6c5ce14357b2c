// The metrics_listen config key: read from YAML, checked in configs built in
// C++, and refused with file:line:column, the key and the expected form.
#include <gtest/gtest.h>

#include <string>

#include "inferloop/config.hpp"
#include "inferloop/error.hpp"

namespace inferloop {
namespace {

const std::string kExpected =
    "expected empty (no metrics server) or HOST:PORT with HOST an IPv4 address or localhost and "
    "PORT 0..65535 (0 = any free port), e.g. \"127.0.0.1:9464\", found ";

std::string error_of(auto&& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(MetricsListenKey, IsEmptyByDefaultAndReadsHostAndPort) {
  EXPECT_EQ(parse_config("model_uri: m.json").metrics_listen, "");
  EXPECT_EQ(parse_config("model_uri: m.json\nmetrics_listen: 127.0.0.1:9464").metrics_listen,
            "127.0.0.1:9464");
  EXPECT_EQ(parse_config("model_uri: m.json\nmetrics_listen: \"localhost:0\"").metrics_listen,
            "localhost:0");
  EXPECT_EQ(parse_config("model_uri: m.json\nmetrics_listen: \"\"").metrics_listen, "");
}

TEST(MetricsListenKey, ABadAddressNamesTheFileLineColumnKeyAndTheForm) {
  EXPECT_EQ(error_of([] { (void)parse_config("model_uri: m.json\nmetrics_listen: 9464", "app.yaml"); }),
            "app.yaml:2:17: metrics_listen: " + kExpected + "'9464'");
  EXPECT_EQ(error_of([] { (void)parse_config("model_uri: m.json\nmetrics_listen: prometheus.internal:9464",
                                             "app.yaml"); }),
            "app.yaml:2:17: metrics_listen: " + kExpected + "'prometheus.internal:9464'");
  EXPECT_EQ(error_of([] { (void)parse_config("model_uri: m.json\nmetrics_listen: 127.0.0.1:70000",
                                             "app.yaml"); }),
            "app.yaml:2:17: metrics_listen: " + kExpected + "'127.0.0.1:70000'");
  // Not a string at all.
  EXPECT_EQ(error_of([] { (void)parse_config("model_uri: m.json\nmetrics_listen: [1, 2]", "app.yaml"); }),
            "app.yaml:2:17: metrics_listen: " + kExpected + "a sequence");
}

TEST(MetricsListenKey, IsCheckedInConfigsBuiltInCpp) {
  InferenceConfig config;
  config.model_uri = "m.json";
  config.metrics_listen = "127.0.0.1:9464";
  EXPECT_NO_THROW(config.validate());
  config.metrics_listen = "127.0.0.1";
  EXPECT_EQ(error_of([&] { config.validate(); }),
            "<C++>: metrics_listen: " + kExpected + "'127.0.0.1'");
}

}  // namespace
}  // namespace inferloop
