// RestClient (src/mlflow/rest.hpp): requests, retries and the messages that
// explain a failure.
//
// Retry policy, the same as MLflow's Python client (urllib3 Retry): the
// statuses 408, 429, 500, 502, 503, 504 and connection-level failures are
// retried up to max_retries times, the n-th retry after backoff_factor *
// 2^(n-1) seconds (capped by max_backoff) plus random jitter, or after what
// the server's Retry-After asks for. Anything else (400, 401, 403, 404, TLS
// verification) fails at once: asking again cannot change the answer.
//
// Threads: one thread at a time (see the header).
//
// At ~500 lines because the messages that explain each failure (status,
// service hint, variables to check) sit beside the request that gets it.
#include "mlflow/rest.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <optional>
#include <fstream>
#include <thread>

#include "mlflow/detail.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

constexpr std::size_t kErrorBodyLimit = 64 * 1024;
// The largest JSON answer read: MLflow's answers are a few KiB (a listing
// of a large folder, a few MiB); a server streaming more is broken.
constexpr std::uint64_t kJsonAnswerLimit = std::uint64_t{64} << 20;

// State shared with libcurl's callbacks for one attempt. Callbacks never
// throw (they run inside C code); they record what happened here instead.
struct Transfer {
  CURL* curl = nullptr;
  const std::function<bool(const char*, std::size_t)>* sink = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  std::uint64_t max_bytes = 0;
  long status = 0;
  std::uint64_t received = 0;
  std::string error_body;
  std::string retry_after;
  bool too_large = false;
  bool sink_failed = false;
};

bool is_success(long status) { return status >= 200 && status < 300; }

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  curl_easy_getinfo(transfer.curl, CURLINFO_RESPONSE_CODE, &transfer.status);
  if (!is_success(transfer.status)) {
    if (transfer.error_body.size() < kErrorBodyLimit) {
      transfer.error_body.append(data, std::min(bytes, kErrorBodyLimit - transfer.error_body.size()));
    }
    return bytes;
  }
  transfer.received += bytes;
  if (transfer.received > transfer.max_bytes) {
    transfer.too_large = true;
    return 0;  // aborts the transfer: CURLE_WRITE_ERROR
  }
  if (!(*transfer.sink)(data, bytes)) {
    transfer.sink_failed = true;
    return 0;
  }
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  // A new status line starts a new response (after a 100 Continue, say):
  // only the final response's Retry-After counts.
  if (line.starts_with("HTTP/")) transfer.retry_after.clear();
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (line.size() > kRetryAfter.size() &&
      std::equal(kRetryAfter.begin(), kRetryAfter.end(), line.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    std::string value(line.substr(kRetryAfter.size()));
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
    transfer.retry_after = value;
  }
  return size * count;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto& transfer = *static_cast<Transfer*>(user);
  // Non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK) within about a
  // second even while no bytes arrive: libcurl calls this at least that often.
  return transfer.cancel != nullptr && transfer.cancel->load(std::memory_order_relaxed) ? 1 : 0;
}

// Failures where no answer came back and asking again may get one.
bool connection_level(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool tls_failure(CURLcode code) {
  return code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CONNECT_ERROR ||
         code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CERTPROBLEM ||
         code == CURLE_SSL_ISSUER_ERROR;
}

std::string attempts_text(int attempts) {
  return std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
}

std::string error_code_of(const std::string& body) {
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object()) {
    const auto code = parsed.find("error_code");
    if (code != parsed.end() && code->is_string()) return code->get<std::string>();
  }
  return "";
}

std::string milliseconds_text(std::chrono::milliseconds wait) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(wait.count()) / 1000.0);
  return text;
}

}  // namespace

Service mlflow_service() {
  Service service;
  service.describe_error = describe_error_body;
  service.error_code = error_code_of;
  service.tls_hint = "check MLFLOW_TRACKING_SERVER_CERT_PATH (the CA bundle) and "
                     "MLFLOW_TRACKING_CLIENT_CERT_PATH, or set MLFLOW_TRACKING_INSECURE_TLS=true for a "
                     "test server";
  service.no_answer_hint = "check MLFLOW_TRACKING_URI and the URI's host";
  service.too_large_hint = "is this an MLflow tracking server?";
  service.unreachable_hint =
      "check MLFLOW_TRACKING_URI (is the tracking server running and reachable from here?)";
  service.auth_hint = "check the credentials: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or "
                      "MLFLOW_TRACKING_TOKEN";
  service.not_found_hint = "is MLFLOW_TRACKING_URI an MLflow tracking server (2.x or later) serving "
                           "artifacts (mlflow server --serve-artifacts, the default)?";
  return service;
}

RestClient::RestClient(const MlflowOptions& options, Service service)
    : options_(options),
      service_(std::move(service)),
      curl_(options_.connect_timeout),
      random_(std::random_device{}()) {
  CURL* curl = curl_.get();
  curl_slist* get_headers = nullptr;
  curl_slist* post_headers = nullptr;
  // Basic wins over a token, as in MLflow's client. The header text holds the
  // token, so it is never printed (only URLs are).
  if (options_.username.empty() && !options_.token.empty()) {
    const std::string bearer = "Authorization: Bearer " + options_.token;
    get_headers = curl_slist_append(get_headers, bearer.c_str());
    post_headers = curl_slist_append(post_headers, bearer.c_str());
  }
  for (const std::string& header : service_.headers) {
    get_headers = curl_slist_append(get_headers, header.c_str());
    post_headers = curl_slist_append(post_headers, header.c_str());
  }
  post_headers = curl_slist_append(post_headers, "Content-Type: application/json");
  // curl would wait for "100 Continue" before a large body; MLflow never needs it.
  post_headers = curl_slist_append(post_headers, "Expect:");
  get_headers_ = get_headers;
  post_headers_ = post_headers;

  if (!options_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
  }
  if (options_.insecure_tls == 1) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!options_.server_cert_path.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.server_cert_path.c_str());
  }
  if (!options_.client_cert_path.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, options_.client_cert_path.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  if (service_.configure) service_.configure(curl);
}

RestClient::~RestClient() {
  curl_slist_free_all(get_headers_);
  curl_slist_free_all(post_headers_);
}

std::string RestClient::scrub(std::string text) const {
  std::vector<const std::string*> secrets{&options_.token, &options_.password};
  for (const std::string& secret : service_.secrets) secrets.push_back(&secret);
  for (const std::string* secret : secrets) {
    // Very short secrets would turn ordinary words into "***"; they are
    // never printed anyway, this is a second line of defence.
    if (secret->size() < 4) continue;
    for (std::size_t at = text.find(*secret); at != std::string::npos; at = text.find(*secret, at + 3)) {
      text.replace(at, secret->size(), "***");
    }
  }
  return text;
}

std::string RestClient::query(const std::vector<std::pair<std::string, std::string>>& parameters) {
  std::string text;
  for (const auto& [key, value] : parameters) {
    char* escaped = curl_easy_escape(curl_.get(), value.c_str(), static_cast<int>(value.size()));
    if (escaped == nullptr) throw Error("curl_easy_escape failed (out of memory?)");
    text += (text.empty() ? "" : "&") + key + "=" + escaped;
    curl_free(escaped);
  }
  return text;
}

std::string RestClient::escape_path(const std::string& path) {
  std::string text;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    const std::string segment = path.substr(start, slash - start);
    char* escaped = curl_easy_escape(curl_.get(), segment.c_str(), static_cast<int>(segment.size()));
    if (escaped == nullptr) throw Error("curl_easy_escape failed (out of memory?)");
    text += (start == 0 ? "" : "/") + std::string(escaped);
    curl_free(escaped);
    start = slash + 1;
  }
  return text;
}

void RestClient::throw_if_cancelled(const Call& call, const std::string& what) const {
  if (options_.cancel != nullptr && options_.cancel->load(std::memory_order_relaxed)) {
    throw RestError(scrub(std::string(call.subject) + " '" + call.model_uri + "': " + what +
                          " cancelled (the loop is stopping)"),
                    false, 0, "");
  }
}

void RestClient::sleep_cancellable(std::chrono::milliseconds wait, const Call& call,
                                   const std::string& what) {
  // Small steps rather than a condition variable: the cancel flag is a plain
  // atomic owned by the caller, with nothing to notify us.
  constexpr auto kStep = std::chrono::milliseconds(20);
  const auto until = std::chrono::steady_clock::now() + wait;
  while (true) {
    throw_if_cancelled(call, what);
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kStep, until - now));
  }
}

void RestClient::perform(Method method, const std::string& url, const std::string* post_body,
                         const std::function<bool(const char*, std::size_t)>& sink,
                         const std::function<void()>& before_attempt, const Call& call,
                         std::uint64_t max_bytes, bool streaming) {
  CURL* curl = curl_.get();
  const std::string method_name = method == Method::kGet ? "GET" : "POST";
  const std::string shown = scrub(method_name + " " + redact_url(url));
  const auto trace = [&](const std::string& line) {
    const std::string clean = scrub(line);
    if (call.trace != nullptr) call.trace->push_back(clean);
    if (options_.log) options_.log(clean);
  };
  const auto fail = [&](const std::string& what, bool unreachable, long status,
                        const std::string& error_code, const std::string& hint) {
    throw RestError(scrub(std::string(call.subject) + " '" + call.model_uri + "': " + shown + " failed: " + what +
                          (hint.empty() ? "" : "; " + hint)),
                    unreachable, status, error_code);
  };

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (method == Method::kGet) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, get_headers_);
  } else {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, post_headers_);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post_body->size()));
  }
  if (streaming) {
    // A whole-transfer limit would fail a large model on a slow link however
    // healthy the transfer; MLflow's timeout is a socket read timeout, so a
    // download fails when nothing arrives for that long instead.
    const long stall_seconds = std::max<long>(1, static_cast<long>((options_.request_timeout.count() + 999) / 1000));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, stall_seconds);
  } else {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 0L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 0L);
  }

  const int attempts_allowed = options_.max_retries + 1;
  for (int attempt = 1;; ++attempt) {
    throw_if_cancelled(call, shown);
    if (before_attempt) before_attempt();
    Transfer transfer;
    transfer.curl = curl;
    transfer.sink = &sink;
    transfer.cancel = options_.cancel;
    transfer.max_bytes = max_bytes;
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
    const CURLcode code = curl_.perform();
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

    if (code == CURLE_OK && is_success(status)) {
      trace(shown + " -> " + std::to_string(status) +
            (attempt > 1 ? " (attempt " + std::to_string(attempt) + ")" : ""));
      return;
    }
    throw_if_cancelled(call, shown);
    if (transfer.too_large && !streaming) {
      // A listing or lookup, never this large from a healthy server.
      fail("the answer is larger than the " + byte_count(max_bytes) +
               " an answer may be; reading it was stopped",
           false, status, "", service_.too_large_hint);
    }
    if (transfer.too_large) {
      fail("the artifact is larger than max_artifact_bytes (" + byte_count(max_bytes) +
               "); the download was stopped",
           false, status, "",
           "raise max_artifact_bytes if this model is expected to be that large");
    }
    if (transfer.sink_failed) {
      fail("writing the downloaded bytes to disk failed", false, status, "",
           "check free space and permissions of the model cache folder");
    }

    const bool transport_failure = code != CURLE_OK;
    const std::string error_code = transport_failure ? "" : service_.error_code(transfer.error_body);
    std::string outcome;
    if (transport_failure) {
      outcome = "no answer (" + curl_.error_text(code) + ")";
    } else {
      const std::string body = service_.describe_error(transfer.error_body);
      outcome = "HTTP " + std::to_string(status) + (body.empty() ? "" : " " + body);
    }
    trace(shown + " -> " + outcome);

    const bool retryable =
        transport_failure ? connection_level(code)
                          : retryable_status(status) &&
                                (!call.probe || status == 408 || status == 429 || status == 503);
    if (!retryable) {
      std::string hint = call.hint;
      if (transport_failure && tls_failure(code)) {
        hint = service_.tls_hint;
      } else if (transport_failure) {
        hint = service_.no_answer_hint;
      } else if (status == 401 || status == 403 || service_.auth_error_codes.contains(error_code)) {
        hint = service_.auth_hint;
      } else if (status == 404 && (error_code == "ENDPOINT_NOT_FOUND" || error_code.empty()) &&
                 call.hint.empty()) {
        hint = service_.not_found_hint;
      }
      fail(outcome + " (" + attempts_text(attempt) + ")", false, status, error_code, hint);
    }
    const std::string unreachable_hint =
        transport_failure ? service_.unreachable_hint
                          : "the server kept failing: check its logs, or try again later";
    if (attempt >= attempts_allowed) {
      fail(outcome + " (" + attempts_text(attempt) + ", the last retry included)", true, status,
           error_code, unreachable_hint);
    }
    std::chrono::milliseconds wait{0};
    std::optional<std::chrono::milliseconds> retry_after;
    if (!transfer.retry_after.empty()) {
      retry_after = parse_retry_after(transfer.retry_after, std::time(nullptr));
    }
    if (retry_after) {
      if (*retry_after > options_.max_retry_after) {
        fail(outcome + "; the server asked to wait " +
                 (*retry_after == std::chrono::milliseconds::max()
                      ? "longer than this process can count"
                      : milliseconds_text(*retry_after)) +
                 " before retrying (Retry-After: " + quote(transfer.retry_after) + "), longer than "
                 "max_retry_after (" + milliseconds_text(options_.max_retry_after) + ") (" +
                 attempts_text(attempt) + ")",
             true, status, error_code, "try again later, or raise MlflowOptions::max_retry_after");
      }
      wait = *retry_after;
    } else {
      const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
      wait = backoff_delay(options_.backoff_factor, options_.backoff_jitter, options_.max_backoff,
                           attempt, unit);
    }
    trace("retry " + std::to_string(attempt) + " of " + std::to_string(options_.max_retries) +
          " for " + shown + " in " + milliseconds_text(wait) +
          (retry_after ? " (Retry-After)" : ""));
    sleep_cancellable(wait, call, shown);
  }
}

nlohmann::json RestClient::get_json(const std::string& url, const Call& call) {
  std::string body;
  const std::function<bool(const char*, std::size_t)> sink = [&](const char* data, std::size_t size) {
    body.append(data, size);
    return true;
  };
  perform(Method::kGet, url, nullptr, sink, [&] { body.clear(); }, call, kJsonAnswerLimit, false);
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    throw RestError(scrub(std::string(call.subject) + " '" + call.model_uri + "': GET " + redact_url(url) +
                          " answered 200 with a body that is not JSON (" +
                          describe_error_body(body) + "); is this an MLflow tracking server?"),
                    false, 200, "");
  }
  return parsed;
}

nlohmann::json RestClient::post_json(const std::string& url, const nlohmann::json& request,
                                     const Call& call) {
  const std::string request_body = request.dump();
  std::string body;
  const std::function<bool(const char*, std::size_t)> sink = [&](const char* data, std::size_t size) {
    body.append(data, size);
    return true;
  };
  perform(Method::kPost, url, &request_body, sink, [&] { body.clear(); }, call, kJsonAnswerLimit,
          false);
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    throw RestError(scrub(std::string(call.subject) + " '" + call.model_uri + "': POST " + redact_url(url) +
                          " answered 200 with a body that is not JSON (" +
                          describe_error_body(body) + "); is this an MLflow tracking server?"),
                    false, 200, "");
  }
  return parsed;
}

std::string RestClient::get_text(const std::string& url, std::uint64_t max_bytes, const Call& call) {
  std::string body;
  const std::function<bool(const char*, std::size_t)> sink = [&](const char* data, std::size_t size) {
    body.append(data, size);
    return true;
  };
  perform(Method::kGet, url, nullptr, sink, [&] { body.clear(); }, call, max_bytes, false);
  return body;
}

std::uint64_t RestClient::download(const std::string& url, const std::filesystem::path& file,
                                   std::uint64_t max_bytes, const Call& call) {
  std::ofstream out;
  std::uint64_t written = 0;
  const std::function<bool(const char*, std::size_t)> sink = [&](const char* data, std::size_t size) {
    out.write(data, static_cast<std::streamsize>(size));
    written += size;
    return static_cast<bool>(out);
  };
  const auto reopen = [&] {
    if (out.is_open()) out.close();
    out.clear();
    out.open(file, std::ios::binary | std::ios::trunc);
    written = 0;
    if (!out) {
      throw Error(std::string(call.subject) + " '" + call.model_uri + "': cannot create '" + file.string() +
                  "' in the model cache; check the permissions of the cache folder");
    }
  };
  perform(Method::kGet, url, nullptr, sink, reopen, call, max_bytes, true);
  out.close();
  if (!out) {
    throw Error(std::string(call.subject) + " '" + call.model_uri + "': writing '" + file.string() +
                "' failed; check free space in the model cache folder");
  }
  return written;
}

}  // namespace inferloop::detail
