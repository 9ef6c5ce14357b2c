// MlflowOptions::from_environment() and mlflow_options(), plus the small
// pure rules in src/mlflow/detail.hpp (listing entries, backoff,
// Retry-After, URL redaction, MLflow error bodies).
//
// The environment variables and their defaults are the ones MLflow's Python
// client reads (mlflow/environment_variables.py), so a process that already
// works with `mlflow` works with inferloop unchanged. A value that does not
// parse, or lies outside its range (kLimits below), is an error naming the
// variable, the range and the value, never silently the default or a
// clamp: a typo in MLFLOW_HTTP_REQUEST_TIMEOUT should not turn into a 120 s
// hang, and no value may round or overflow into "no timeout at all" (libcurl
// reads a timeout of 0 ms as none). Members set in C++ get the same ranges.
//
// Thread safety: reentrant (getenv is only read).
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <memory>

#include <nlohmann/json.hpp>

#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "mlflow/detail.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// The ranges every retry and timeout setting must lie in, from the
// environment or from MlflowOptions' members. Each wait is added to a clock
// reading, so none may come near the clock's range; a day is far beyond any
// sensible value.
constexpr int kMaxRetries = 100;
constexpr double kMaxBackoffSeconds = 600;  // backoff factor and jitter
constexpr milliseconds kShortestTimeout{1};  // less rounds to 0 ms: "no timeout"
constexpr milliseconds kLongestWait = std::chrono::hours(24);

// Runs `read`; an Error it throws gets "; fix or unset it" appended, since
// the value came from the environment.
template <typename Read>
auto from_variable(Read read) {
  try {
    return read();
  } catch (const Error& error) {
    throw Error(std::string(error.what()) + "; fix or unset it");
  }
}

std::string variable(const char* name) { return "environment variable " + std::string(name); }

int env_int(const char* name, int fallback) {
  const std::string value = trimmed(env(name));
  if (value.empty()) return fallback;
  return from_variable(
      [&] { return detail::parse_integer<int>(value, variable(name), 0, kMaxRetries); });
}

double env_seconds(const char* name, double fallback) {
  const std::string value = trimmed(env(name));
  if (value.empty()) return fallback;
  return from_variable(
      [&] { return detail::parse_real(value, variable(name), 0, kMaxBackoffSeconds); });
}

// Seconds as text -> milliseconds in [kShortestTimeout, kLongestWait],
// rounded up so that a positive value never becomes 0 ms.
milliseconds timeout_from_seconds(std::string_view text, std::string_view what) {
  const std::string expected = "a number of seconds from " +
                               detail::duration_text(kShortestTimeout) + " to " +
                               detail::duration_text(kLongestWait);
  // Compared as seconds first, so that the message echoes the text as written.
  const std::optional<double> seconds = detail::to_real(text);
  const auto limit_seconds = [](milliseconds limit) {
    return static_cast<double>(limit.count()) / 1e3;
  };
  if (!seconds || *seconds < limit_seconds(kShortestTimeout) ||
      *seconds > limit_seconds(kLongestWait)) {
    detail::throw_out_of_range(what, expected, text);
  }
  const nanoseconds exact =
      detail::seconds_to_duration(*seconds, what, kShortestTimeout, kLongestWait);
  return std::chrono::ceil<milliseconds>(exact);
}

// MLflow's boolean variables accept true/false/1/0 in any case.
int env_bool(const char* name) {
  std::string value = trimmed(env(name));
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (value.empty() || value == "false" || value == "0") return 0;
  if (value == "true" || value == "1") return 1;
  return from_variable([&]() -> int {
    detail::throw_out_of_range(variable(name), "true or false (or 1 or 0)", env(name));
  });
}

// A member set in C++ outside its range: the same refusal as a variable's.
void check_member(bool in_range, std::string_view member, std::string_view expected,
                  std::string_view found) {
  if (!in_range) {
    detail::throw_out_of_range("MlflowOptions::" + std::string(member), expected, found);
  }
}

// "90s"; a wait beyond nanoseconds' range (milliseconds::max()) as
// milliseconds, since converting it would overflow.
std::string wait_text(milliseconds wait) {
  constexpr auto kMostMilliseconds = std::chrono::duration_cast<milliseconds>(nanoseconds::max());
  if (wait > kMostMilliseconds || wait < -kMostMilliseconds) {
    return std::to_string(wait.count()) + "ms";
  }
  return detail::duration_text(wait);
}

void check_wait(milliseconds wait, std::string_view member, milliseconds shortest) {
  check_member(wait >= shortest && wait <= kLongestWait, member,
               "a duration from " + detail::duration_text(shortest) + " to " +
                   detail::duration_text(kLongestWait),
               wait_text(wait));
}

}  // namespace

MlflowOptions MlflowOptions::from_environment() const {
  MlflowOptions resolved = *this;
  if (resolved.tracking_uri.empty()) resolved.tracking_uri = trimmed(env("MLFLOW_TRACKING_URI"));
  while (resolved.tracking_uri.ends_with('/')) resolved.tracking_uri.pop_back();
  if (resolved.cache_dir.empty()) {
    if (const std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty()) {
      resolved.cache_dir = std::filesystem::path(xdg) / "inferloop";
    } else if (const std::string home = env("HOME"); !home.empty()) {
      resolved.cache_dir = std::filesystem::path(home) / ".cache" / "inferloop";
    } else {
      throw Error("no folder for the MLflow model cache: neither XDG_CACHE_HOME nor HOME is set; "
                  "set model_cache_dir (MlflowOptions::cache_dir)");
    }
  }
  if (resolved.max_retries < 0) resolved.max_retries = env_int("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7);
  if (resolved.backoff_factor < 0) {
    resolved.backoff_factor = env_seconds("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2);
  }
  if (resolved.backoff_jitter < 0) {
    resolved.backoff_jitter = env_seconds("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1);
  }
  if (resolved.request_timeout.count() <= 0) {
    const std::string value = trimmed(env("MLFLOW_HTTP_REQUEST_TIMEOUT"));
    resolved.request_timeout =
        value.empty() ? std::chrono::seconds(120) : from_variable([&] {
          return timeout_from_seconds(value, variable("MLFLOW_HTTP_REQUEST_TIMEOUT"));
        });
  }
  if (resolved.token.empty()) resolved.token = env("MLFLOW_TRACKING_TOKEN");
  if (resolved.username.empty()) resolved.username = env("MLFLOW_TRACKING_USERNAME");
  if (resolved.password.empty()) resolved.password = env("MLFLOW_TRACKING_PASSWORD");
  if (resolved.insecure_tls < 0) resolved.insecure_tls = env_bool("MLFLOW_TRACKING_INSECURE_TLS");
  if (resolved.server_cert_path.empty()) {
    resolved.server_cert_path = env("MLFLOW_TRACKING_SERVER_CERT_PATH");
  }
  if (resolved.client_cert_path.empty()) {
    resolved.client_cert_path = env("MLFLOW_TRACKING_CLIENT_CERT_PATH");
  }

  // The same refusal as MLflow's client: "verify nothing" and "verify with
  // this CA" cannot both be meant.
  if (resolved.insecure_tls == 1 && !resolved.server_cert_path.empty()) {
    throw Error("MLFLOW_TRACKING_INSECURE_TLS is true and MLFLOW_TRACKING_SERVER_CERT_PATH is set (" +
                detail::quote(resolved.server_cert_path) + "): turning TLS verification "
                "off and verifying against a CA bundle contradict each other; unset one of them");
  }
  if (resolved.username.empty() != resolved.password.empty()) {
    throw Error(std::string("MLFLOW_TRACKING_") + (resolved.username.empty() ? "PASSWORD" : "USERNAME") +
                " is set but MLFLOW_TRACKING_" + (resolved.username.empty() ? "USERNAME" : "PASSWORD") +
                " is not; Basic authentication needs both");
  }
  if (resolved.max_artifact_bytes == 0) {
    throw Error("MlflowOptions::max_artifact_bytes is 0; set the largest model file to accept, "
                "in bytes (default 2 GiB)");
  }
  // Members set in C++ get the ranges the variables get.
  check_member(resolved.max_retries <= kMaxRetries, "max_retries",
               "an integer in [0, " + std::to_string(kMaxRetries) + "]",
               std::to_string(resolved.max_retries));
  const std::string seconds_range =
      "a number of seconds in [0, " + detail::number_text(kMaxBackoffSeconds) + "]";
  check_member(resolved.backoff_factor >= 0 && resolved.backoff_factor <= kMaxBackoffSeconds,
               "backoff_factor", seconds_range, detail::number_text(resolved.backoff_factor));
  check_member(resolved.backoff_jitter >= 0 && resolved.backoff_jitter <= kMaxBackoffSeconds,
               "backoff_jitter", seconds_range, detail::number_text(resolved.backoff_jitter));
  check_wait(resolved.request_timeout, "request_timeout", kShortestTimeout);
  check_wait(resolved.connect_timeout, "connect_timeout", kShortestTimeout);
  check_wait(resolved.max_backoff, "max_backoff", milliseconds(0));
  check_wait(resolved.max_retry_after, "max_retry_after", milliseconds(0));
  return resolved;
}

MlflowOptions mlflow_options(const InferenceConfig& config) {
  MlflowOptions options;
  options.tracking_uri = config.mlflow_tracking_uri;
  options.cache_dir = config.model_cache_dir;
  options.use_cache_when_offline = config.use_cache_when_offline;
  options.max_artifact_bytes = config.max_artifact_bytes;
  return options;
}

namespace detail {

void check_listing_entry(const std::string& entry, const std::string& folder,
                         const std::string& model_uri) {
  const char* problem = nullptr;
  if (entry.empty()) {
    problem = "is empty";
  } else if (entry == "." || entry == "..") {
    problem = "is a relative folder reference";
  } else if (entry.find('\0') != std::string::npos) {
    problem = "holds a NUL byte";
  } else if (entry.find('/') != std::string::npos || entry.find('\\') != std::string::npos) {
    problem = "holds a path separator";
  } else if (std::filesystem::path(entry).is_absolute()) {
    problem = "is an absolute path";
  }
  if (problem == nullptr) return;
  std::string shown = entry;
  std::replace(shown.begin(), shown.end(), '\0', '?');
  throw Error("model_uri '" + model_uri + "': path-escaping listing: the artifact listing of '" +
              folder + "' names the entry '" + shown + "', which " + problem +
              " (a listing must name plain file names inside the folder); nothing was written. "
              "Check the tracking server's artifact store");
}

std::chrono::milliseconds backoff_delay(double backoff_factor, double backoff_jitter,
                                        std::chrono::milliseconds max_backoff, int retry,
                                        double jitter_unit) {
  const double exponential =
      std::max(backoff_factor, 0.0) * std::pow(2.0, std::max(retry, 1) - 1) * 1000.0;
  const double capped = std::min(exponential, static_cast<double>(max_backoff.count()));
  const double jitter = std::clamp(jitter_unit, 0.0, 1.0) * std::max(backoff_jitter, 0.0) * 1000.0;
  return std::chrono::milliseconds(static_cast<long long>(std::llround(capped + jitter)));
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::time_t now) {
  // Seconds to a wait; a number of seconds too large for milliseconds is a
  // wait longer than any limit, so it saturates rather than wraps.
  const auto wait_of = [](std::int64_t seconds) {
    constexpr std::int64_t kMostSeconds = std::chrono::milliseconds::max().count() / 1000;
    if (seconds > kMostSeconds) return std::chrono::milliseconds::max();
    return std::chrono::milliseconds(std::max<std::int64_t>(seconds, 0) * 1000);
  };
  const std::string text = trimmed(value);
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    // All digits: only too many of them for 64 bits fails here.
    const std::optional<std::int64_t> seconds = to_integer(text);
    return seconds ? wait_of(*seconds) : std::chrono::milliseconds::max();
  }
  const std::time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  std::int64_t seconds = 0;
  if (__builtin_sub_overflow(static_cast<std::int64_t>(when), static_cast<std::int64_t>(now),
                             &seconds)) {
    return std::chrono::milliseconds::max();
  }
  return wait_of(seconds);
}

bool retryable_status(long status) noexcept {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

std::string redact_url(const std::string& url) {
  // libcurl's URL parser rather than a hand-written one: it knows where the
  // userinfo ends (an '@' in the path is not userinfo).
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  if (handle != nullptr &&
      curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    char* user = nullptr;
    const bool has_user = curl_url_get(handle.get(), CURLUPART_USER, &user, 0) == CURLUE_OK;
    curl_free(user);
    char* password = nullptr;
    const bool has_password = curl_url_get(handle.get(), CURLUPART_PASSWORD, &password, 0) == CURLUE_OK;
    curl_free(password);
    if (!has_user && !has_password) return url;
    curl_url_set(handle.get(), CURLUPART_USER, nullptr, 0);
    curl_url_set(handle.get(), CURLUPART_PASSWORD, nullptr, 0);
    char* cleaned = nullptr;
    if (curl_url_get(handle.get(), CURLUPART_URL, &cleaned, 0) == CURLUE_OK && cleaned != nullptr) {
      std::string result(cleaned);
      curl_free(cleaned);
      return result;
    }
  }
  // Not a URL libcurl parses: drop everything up to an '@' before the first
  // '/' after "://", which is where userinfo would be.
  const std::size_t start = url.find("://");
  if (start == std::string::npos) return url;
  const std::size_t end = url.find('/', start + 3);
  const std::size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < start + 3) return url;
  return url.substr(0, start + 3) + url.substr(at + 1);
}

std::string describe_error_body(const std::string& body) {
  if (body.empty()) return "";
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && (parsed.contains("error_code") || parsed.contains("message"))) {
    const auto text = [&](const char* key) {
      const auto found = parsed.find(key);
      if (found == parsed.end()) return std::string();
      if (found->is_string()) return found->get<std::string>();
      // dump() recurses once per nesting level: collections by type only.
      return found->is_primitive() ? found->dump() : std::string("a JSON ") + found->type_name();
    };
    // Whole when short, as MLflow's are; bounded when a server sends more.
    constexpr std::size_t kLongestShown = 500;
    const auto shown = [&](const char* key) {
      const std::string value = text(key);
      return value.size() <= kLongestShown ? value : quote(value, kLongestShown);
    };
    const std::string code = shown("error_code");
    const std::string message = shown("message");
    return code.empty() ? message : message.empty() ? code : code + ": " + message;
  }
  std::string head = body.substr(0, 200);
  std::replace_if(head.begin(), head.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20; }, ' ');
  return "body: '" + head + (body.size() > 200 ? "...'" : "'");
}

std::string byte_count(std::uint64_t bytes) { return std::to_string(bytes) + " bytes"; }

}  // namespace detail
}  // namespace inferloop
