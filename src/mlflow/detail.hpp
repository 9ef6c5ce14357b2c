// Internals of the MLflow resolver (include/inferloop/mlflow.hpp) that are
// small, pure and worth testing on their own: the rules a listing entry must
// follow, the retry wait, Retry-After, and how URLs are printed without
// their credentials; and the two URI helpers of the model URI grammar
// (src/mlflow/model_uri.cpp) that the client also needs for artifact URIs.
//
// Nothing here keeps state; every function may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "inferloop/model_source.hpp"

namespace inferloop::detail {

// --- defined in src/mlflow/model_uri.cpp -----------------------------------

// file:///abs, file://localhost/abs, file:/abs -> the decoded path. Throws.
[[nodiscard]] std::filesystem::path file_uri_to_path(const std::string& uri);
// "models" for "models:/x", "" for a plain path (a drive letter is no scheme).
[[nodiscard]] std::string model_uri_scheme(std::string_view uri);

// --- defined in the rest of src/mlflow/ ------------------------------------

// Why an artifact store with this URI scheme ("gs", "wasbs", "abfss", ...)
// is refused, and what is read instead; for messages.
[[nodiscard]] std::string unsupported_store_text(const std::string& scheme);

// Throws inferloop::Error ("path-escaping listing") unless `entry`, a `path`
// from an artifact listing of `folder`, is a plain basename: not empty, not
// "." or "..", no '/', '\\' or NUL, not absolute. The server is trusted to
// answer, not to choose where on this disk files are written.
void check_listing_entry(const std::string& entry, const std::string& folder,
                         const std::string& model_uri);

// The wait before retry number `retry` (1-based): backoff_factor *
// 2^(retry-1) seconds, capped by `max_backoff`, plus `jitter_unit` (a draw
// from [0, 1)) times backoff_jitter seconds.
[[nodiscard]] std::chrono::milliseconds backoff_delay(double backoff_factor, double backoff_jitter,
                                                      std::chrono::milliseconds max_backoff,
                                                      int retry, double jitter_unit);

// A Retry-After header value: delta-seconds ("120") or an HTTP date (parsed
// by libcurl's curl_getdate), as a wait from `now`. A date in the past is a
// wait of 0. nullopt when the value is neither (the header is then ignored).
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                                         std::time_t now);

// 408, 429, 500, 502, 503, 504: the statuses MLflow's Python client retries.
[[nodiscard]] bool retryable_status(long status) noexcept;

// `url` without its user:password@ part, for messages and log lines.
[[nodiscard]] std::string redact_url(const std::string& url);

// "RESOURCE_DOES_NOT_EXIST: Registered Model with name=x not found" from
// MLflow's JSON error body {"error_code", "message"}; for any other body its
// first 200 characters (control characters replaced), "" for an empty one.
[[nodiscard]] std::string describe_error_body(const std::string& body);

// 1'234'567 -> "1.2 MB" style text for messages.
[[nodiscard]] std::string byte_count(std::uint64_t bytes);

}  // namespace inferloop::detail
