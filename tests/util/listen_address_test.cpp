#include "util/listen_address.hpp"

#include <gtest/gtest.h>

#include <string>

#include "inferloop/error.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

std::string message_of(auto&& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ListenAddress, ReadsAnIpv4LiteralOrLocalhostAndAPort) {
  const std::optional<ListenAddress> loopback = to_listen_address("127.0.0.1:9464");
  ASSERT_TRUE(loopback);
  EXPECT_EQ(loopback->host, "127.0.0.1");
  EXPECT_EQ(loopback->port, 9464);
  EXPECT_EQ(loopback->text(), "127.0.0.1:9464");
  EXPECT_EQ(to_listen_address("localhost:65535")->port, 65535);
  EXPECT_EQ(to_listen_address("0.0.0.0:0")->port, 0);  // every interface, any free port
}

TEST(ListenAddress, RefusesWhatAServerCannotListenOn) {
  for (const char* text : {"", "9464", ":9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                           "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x", "256.0.0.1:80",
                           "example.com:80", "[::1]:9464", "::1:9464", "127.0.0.1 :80",
                           "127.0.0.1:99999999999999999999"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(to_listen_address(text));
  }
  EXPECT_FALSE(to_listen_address(std::string("127.0.0.1\0x:80", 14)));
}

TEST(ListenAddress, ParseNamesWhatWasReadAndTheExpectedForm) {
  EXPECT_EQ(message_of([] { (void)parse_listen_address("localhost", "--metrics"); }),
            "--metrics: expected HOST:PORT with HOST an IPv4 address or localhost and PORT "
            "0..65535 (0 = any free port), e.g. \"127.0.0.1:9464\", found 'localhost'");
  EXPECT_NE(message_of([] { (void)parse_listen_address(std::string(10'000, 'x'), "--metrics"); })
                .find("(10000 bytes)"),
            std::string::npos);
}

// Found by the listen_address fuzzer (fuzz/corpus/listen_address/
// control_characters): control characters are shown escaped, and a long run
// of them still gives a message of bounded length.
TEST(ListenAddress, ControlCharactersAreEscapedAndTheMessageStaysBounded) {
  const std::string input = "1" + std::string(66, '\x16') + "0";
  const std::string message = message_of([&] { (void)parse_listen_address(input, "--metrics"); });
  EXPECT_NE(message.find("found '1\\x16\\x16"), std::string::npos) << message;
  const std::string huge(1'000'000, '\x16');
  EXPECT_LE(message_of([&] { (void)parse_listen_address(huge, "--metrics"); }).size(),
            200 + kListenAddressExpected.size() + 4 * kQuotedMaxChars);
}

}  // namespace
}  // namespace inferloop::detail
