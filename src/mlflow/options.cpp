// MlflowOptions::from_environment() and mlflow_options(), plus the small
// pure rules in src/mlflow/detail.hpp (listing entries, backoff,
// Retry-After, URL redaction, MLflow error bodies).
//
// The environment variables and their defaults are the ones MLflow's Python
// client reads (mlflow/environment_variables.py), so a process that already
// works with `mlflow` works with inferloop unchanged. A value that does not
// parse is an error naming the variable, never silently the default: a typo
// in MLFLOW_HTTP_REQUEST_TIMEOUT should not turn into a 120 s hang.
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

[[noreturn]] void bad_env(const char* name, const std::string& value, const std::string& expected) {
  throw Error("environment variable " + std::string(name) + "='" + value + "': expected " + expected +
              "; fix or unset it");
}

int env_int(const char* name, int fallback) {
  const std::string value = trimmed(env(name));
  if (value.empty()) return fallback;
  int parsed = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (ec != std::errc() || end != value.data() + value.size() || parsed < 0) {
    bad_env(name, value, "a non-negative integer");
  }
  return parsed;
}

double env_double(const char* name, double fallback, bool positive) {
  const std::string value = trimmed(env(name));
  if (value.empty()) return fallback;
  double parsed = 0;
  // from_chars for double is in libstdc++ 11+, locale-independent unlike strtod.
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(parsed) ||
      parsed < 0 || (positive && parsed == 0)) {
    bad_env(name, value, positive ? "a positive number" : "a non-negative number");
  }
  return parsed;
}

// MLflow's boolean variables accept true/false/1/0 in any case.
int env_bool(const char* name) {
  std::string value = trimmed(env(name));
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (value.empty() || value == "false" || value == "0") return 0;
  if (value == "true" || value == "1") return 1;
  bad_env(name, env(name), "true or false");
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
    resolved.backoff_factor = env_double("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2, false);
  }
  if (resolved.backoff_jitter < 0) {
    resolved.backoff_jitter = env_double("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1, false);
  }
  if (resolved.request_timeout.count() <= 0) {
    const double seconds = env_double("MLFLOW_HTTP_REQUEST_TIMEOUT", 120, true);
    resolved.request_timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
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
    throw Error("MLFLOW_TRACKING_INSECURE_TLS is true and MLFLOW_TRACKING_SERVER_CERT_PATH is set ('" +
                resolved.server_cert_path + "'): turning TLS verification off and verifying "
                "against a CA bundle contradict each other; unset one of them");
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
  if (resolved.max_backoff.count() < 0 || resolved.max_retry_after.count() < 0 ||
      resolved.connect_timeout.count() <= 0) {
    throw Error("MlflowOptions: max_backoff and max_retry_after must not be negative and "
                "connect_timeout must be positive");
  }
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
  const std::string text = trimmed(value);
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    long long seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size()) {
      // Too many digits for 64 bits: a wait longer than any limit.
      return std::chrono::milliseconds::max();
    }
    if (seconds > std::chrono::milliseconds::max().count() / 1000) return std::chrono::milliseconds::max();
    return std::chrono::milliseconds(seconds * 1000);
  }
  const std::time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  return std::chrono::milliseconds(std::max<long long>(0, static_cast<long long>(when - now)) * 1000);
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
      return found->is_string() ? found->get<std::string>() : found->dump();
    };
    const std::string code = text("error_code");
    const std::string message = text("message");
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
