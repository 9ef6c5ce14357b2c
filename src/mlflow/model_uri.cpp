// parse_model_uri(): every model URI form MLflow's Python client accepts,
// taken apart without touching the network (the table in
// include/inferloop/mlflow.hpp and docs/mlflow.md).
//
// The registry forms follow MLflow's own parser (mlflow/store/artifact/
// utils/models.py): the second path segment is a version when it is all
// digits, "latest" in any case, else a stage; a single segment with '@' is
// name@alias (split on the last '@', since names may hold '@'); a single
// segment without '@' is an MLflow 3 logged model id. inferloop also allows
// an artifact path after the reference (models:/name/3/sub).
//
// s3://bucket/key follows MLflow's S3 artifact repository: the bucket is the
// host and the key the path, taken literally (not percent-decoded).
//
// Input bounds: a URI is at most kMaxModelUriBytes long and holds no NUL
// (a path with one would name a shorter file than it shows); every part of
// it a message shows is quoted with detail::quote, so a message stays short
// whatever the URI holds. The one percent-decoded form (an artifact-proxy
// URL's path) is checked after decoding, so %00, %2F%2E%2E and the like
// cannot smuggle a NUL or a ".." segment past the checks.
//
// Thread safety: reentrant.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "mlflow/detail.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

// "%2F" -> "/". Only file:// URIs are percent-decoded; a plain path is taken
// literally, since '%' is an ordinary character in a file name. %00 is
// refused: a path with a NUL in it opens a shorter path than it shows.
std::string percent_decode(std::string_view text, const std::string& uri) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded += text[i];
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      throw Error("model_uri " + detail::quote(uri) + ": bad percent-escape " +
                  detail::quote(text.substr(i, 3)) +
                  " in the path (expected %XX with two hex digits); write '%' as %25");
    }
    const char byte = static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
    if (byte == '\0') {
      throw Error("model_uri " + detail::quote(uri) + ": the path holds %00 (a NUL byte), which "
                  "would cut it short; remove it");
    }
    decoded += byte;
    i += 2;
  }
  return decoded;
}

// The scheme of `uri` ("file", "models", ...), or empty for a plain path.
std::string uri_scheme(std::string_view uri) {
  const std::size_t colon = uri.find(':');
  // One letter before ':' would be a drive letter, not a scheme.
  if (colon == std::string_view::npos || colon < 2) return {};
  if (!std::isalpha(static_cast<unsigned char>(uri[0]))) return {};
  for (std::size_t i = 1; i < colon; ++i) {
    const char c = uri[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return {};
    }
  }
  std::string scheme(uri.substr(0, colon));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return scheme;
}

// file:///abs/path, file://localhost/abs/path, file:/abs/path, file:relative.
std::filesystem::path file_uri_path(const std::string& uri) {
  if (uri.find('\0') != std::string::npos) {
    throw Error("model_uri " + detail::quote(uri) + ": it holds a NUL byte, which would cut the "
                "path short; remove it");
  }
  std::string_view rest = std::string_view(uri).substr(5);  // after "file:"
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    const std::size_t slash = rest.find('/');
    const std::string_view host = rest.substr(0, slash);
    if (!host.empty() && host != "localhost") {
      throw Error("model_uri " + detail::quote(uri) + ": file:// URI names host " + detail::quote(host) +
                  "; only local files can be read: use file:///absolute/path (three slashes)");
    }
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  }
  const std::size_t query = rest.find_first_of("?#");
  rest = rest.substr(0, query);
  if (rest.empty()) {
    throw Error("model_uri " + detail::quote(uri) + ": file URI has no path; " +
                "point model_uri at a model file (.json/.ubj) or an MLflow model folder, e.g. "
                "file:///models/my-model");
  }
  return percent_decode(rest, uri);
}


constexpr std::string_view kForms =
    "the model URI forms are models:/<name>/<version>, models:/<name>@<alias>, "
    "models:/<name>/latest, models:/<name>/<stage> (Production, Staging, Archived, None), "
    "models:/<model_id>, runs:/<run_id>/<path>, mlflow-artifacts:/<path>, "
    "mlflow-artifacts://<host>:<port>/<path>, "
    "http(s)://<host>/api/2.0/mlflow-artifacts/artifacts/<path>, s3://<bucket>/<key>, file:///<path> and "
    "a local path";

constexpr std::string_view kProxyPath = "/api/2.0/mlflow-artifacts/artifacts";

// The longest model URI taken apart: the config's model_uri key allows as
// much (PATH_MAX on Linux); no registry name, run id or artifact path needs
// more.
constexpr std::size_t kMaxModelUriBytes = 4096;

using detail::quote;

[[noreturn]] void malformed(const std::string& uri, const std::string& problem) {
  throw Error("model_uri " + quote(uri) + ": " + problem + "; " + std::string(kForms));
}

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; });
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    segments.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return segments;
    start = slash + 1;
  }
}

std::string join(const std::vector<std::string_view>& segments, std::size_t from) {
  std::string joined;
  for (std::size_t i = from; i < segments.size(); ++i) {
    joined += (i == from ? "" : "/") + std::string(segments[i]);
  }
  return joined;
}

// After "models:" or "runs:": the path without its leading slash. An empty
// authority ("models:///x") is what urlparse gives MLflow for the same URI;
// a non-empty one is a Databricks profile (models://profile/x), which a
// tracking server outside Databricks cannot resolve.
std::string_view registry_path(const std::string& uri, std::string_view rest, std::string_view scheme) {
  if (rest.starts_with("///")) {
    rest.remove_prefix(3);
  } else if (rest.starts_with("//")) {
    malformed(uri, std::string(scheme) + "://<profile>/... names a Databricks profile, which "
                   "inferloop does not support; write " + std::string(scheme) + ":/... (one slash) "
                   "and set MLFLOW_TRACKING_URI");
  } else if (rest.starts_with("/")) {
    rest.remove_prefix(1);
  } else {
    malformed(uri, std::string(scheme) + ": must be followed by '/'");
  }
  const std::size_t query = rest.find_first_of("?#");
  rest = rest.substr(0, query);
  while (rest.ends_with('/')) rest.remove_suffix(1);
  return rest;
}

void check_segments(const std::string& uri, const std::vector<std::string_view>& segments) {
  for (std::string_view segment : segments) {
    if (segment.empty()) malformed(uri, "the path has an empty segment ('//')");
    if (segment == "." || segment == "..") {
      malformed(uri, "the path has a " + quote(segment) + " segment; write the artifact path "
                     "without it");
    }
  }
}

ModelUri parse_models(const std::string& uri, std::string_view rest) {
  const std::string_view path = registry_path(uri, rest, "models");
  if (path.empty()) malformed(uri, "models:/ needs a registered model name or a model id");
  const std::vector<std::string_view> segments = split_path(path);
  check_segments(uri, segments);
  ModelUri parsed;
  parsed.uri = uri;
  const std::string_view first = segments[0];
  if (const std::size_t at = first.rfind('@'); at != std::string_view::npos) {
    parsed.kind = ModelUri::Kind::kRegistryAlias;
    parsed.name = std::string(first.substr(0, at));
    parsed.alias = std::string(first.substr(at + 1));
    if (parsed.name.empty()) malformed(uri, "the registered model name before '@' is empty");
    if (parsed.alias.empty()) malformed(uri, "the alias after '@' is empty");
    parsed.path = join(segments, 1);
    return parsed;
  }
  if (segments.size() == 1) {
    parsed.kind = ModelUri::Kind::kLoggedModel;
    parsed.model_id = std::string(first);
    return parsed;
  }
  parsed.name = std::string(first);
  const std::string_view second = segments[1];
  const std::string second_lower = lower(second);
  if (all_digits(second)) {
    parsed.kind = ModelUri::Kind::kRegistryVersion;
    parsed.version = std::string(second);
  } else if (second_lower == "latest") {
    parsed.kind = ModelUri::Kind::kRegistryLatest;
  } else if (second_lower == "production" || second_lower == "staging" ||
             second_lower == "archived" || second_lower == "none") {
    parsed.kind = ModelUri::Kind::kRegistryStage;
    parsed.stage = std::string(second);
  } else {
    malformed(uri, quote(second) + " after the model name is neither a version (digits), "
                   "'latest', nor a stage (Production, Staging, Archived, None)");
  }
  parsed.path = join(segments, 2);
  return parsed;
}

ModelUri parse_runs(const std::string& uri, std::string_view rest) {
  const std::string_view path = registry_path(uri, rest, "runs");
  const std::vector<std::string_view> segments = split_path(path);
  if (path.empty()) malformed(uri, "runs:/ needs a run id and an artifact path");
  check_segments(uri, segments);
  if (segments.size() < 2) {
    const std::string run = "runs:/" + std::string(path);
    malformed(uri, quote(run) + " has no artifact path after the run id (e.g. " +
                       quote(run + "/model") + ")");
  }
  ModelUri parsed;
  parsed.kind = ModelUri::Kind::kRun;
  parsed.uri = uri;
  parsed.run_id = std::string(segments[0]);
  parsed.path = join(segments, 1);
  return parsed;
}

ModelUri parse_artifacts(const std::string& uri, std::string_view rest) {
  ModelUri parsed;
  parsed.kind = ModelUri::Kind::kArtifacts;
  parsed.uri = uri;
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    const std::size_t slash = rest.find('/');
    parsed.host = std::string(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  }
  const std::size_t query = rest.find_first_of("?#");
  rest = rest.substr(0, query);
  while (rest.starts_with('/')) rest.remove_prefix(1);
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty()) malformed(uri, "mlflow-artifacts: needs an artifact path");
  check_segments(uri, split_path(rest));
  parsed.path = std::string(rest);
  return parsed;
}

ModelUri parse_http(const std::string& uri, std::string_view scheme) {
  std::string_view rest = std::string_view(uri).substr(scheme.size() + 1);
  if (!rest.starts_with("//")) malformed(uri, std::string(scheme) + ": must be followed by '//host'");
  const std::size_t query = rest.find_first_of("?#");
  rest = rest.substr(0, query);
  const std::size_t proxy = rest.find(kProxyPath);
  const std::size_t after = proxy + kProxyPath.size();
  if (proxy == std::string_view::npos || rest.size() <= after + 1 || rest[after] != '/') {
    throw Error("model_uri " + quote(uri) + ": an http(s) model URI must be a URL of MLflow's "
                "artifact proxy, <tracking server>" + std::string(kProxyPath) + "/<path>; for a "
                "registered model use models:/<name>/<version> with MLFLOW_TRACKING_URI set");
  }
  ModelUri parsed;
  parsed.kind = ModelUri::Kind::kHttp;
  parsed.uri = uri;
  parsed.host = std::string(scheme) + ":" + std::string(rest.substr(0, proxy));
  std::string_view path = rest.substr(after + 1);
  while (path.ends_with('/')) path.remove_suffix(1);
  // The URL's path is percent-encoded; keep the artifact path decoded so that
  // it is encoded exactly once when a request URL is built from it.
  int length = 0;
  char* decoded = curl_easy_unescape(nullptr, path.data(), static_cast<int>(path.size()), &length);
  if (decoded == nullptr) throw Error("curl_easy_unescape failed (out of memory?)");
  parsed.path.assign(decoded, static_cast<std::size_t>(length));
  curl_free(decoded);
  if (parsed.path.find('\0') != std::string::npos) malformed(uri, "the path holds %00");
  check_segments(uri, split_path(parsed.path));
  return parsed;
}

// S3's rules for bucket names (3-63 lowercase letters, digits, '.' and '-',
// a letter or digit at each end): the name becomes a host name on AWS.
bool valid_bucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  const auto edge = [](unsigned char c) { return std::islower(c) != 0 || std::isdigit(c) != 0; };
  return edge(static_cast<unsigned char>(bucket.front())) && edge(static_cast<unsigned char>(bucket.back())) &&
         std::all_of(bucket.begin(), bucket.end(), [&](unsigned char c) { return edge(c) || c == '.' || c == '-'; });
}

ModelUri parse_s3(const std::string& uri, std::string_view rest) {
  if (!rest.starts_with("//")) malformed(uri, "s3: must be followed by //<bucket>/<key>");
  rest.remove_prefix(2);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    malformed(uri, "an s3:// URI has no query or fragment ('?', '#'); write s3://<bucket>/<key>");
  }
  const std::size_t slash = rest.find('/');
  const std::string_view bucket = rest.substr(0, slash);
  if (!valid_bucket(bucket)) {
    malformed(uri, quote(bucket) + " is not an S3 bucket name (3 to 63 lowercase letters, digits, '.' "
                   "and '-', starting and ending with a letter or digit)");
  }
  std::string_view key = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  while (key.ends_with('/')) key.remove_suffix(1);
  if (key.empty()) {
    malformed(uri, quote("s3://" + std::string(bucket)) + " names a whole bucket; add the key of the "
                   "model folder or file: s3://<bucket>/<key>");
  }
  check_segments(uri, split_path(key));
  if (key.find('\0') != std::string_view::npos) malformed(uri, "the key holds a NUL byte");
  ModelUri parsed;
  parsed.kind = ModelUri::Kind::kS3;
  parsed.uri = uri;
  parsed.host = std::string(bucket);
  parsed.path = std::string(key);
  return parsed;
}

}  // namespace

std::string detail::unsupported_store_text(const std::string& scheme) {
  std::string store = "'" + scheme + ":'";
  if (scheme == "gs") store = "Google Cloud Storage (gs://)";
  if (scheme == "wasbs" || scheme == "wasb" || scheme == "abfss" || scheme == "abfs") {
    store = "Azure Blob Storage (" + scheme + "://)";
  }
  return store + " is not a store inferloop reads: it reads MLflow's artifact proxy (mlflow-artifacts:/, "
                 "`mlflow server --serve-artifacts`, the default), S3 and S3-compatible stores (s3://) and "
                 "local folders. Serve the artifacts through the tracking server, or download the model "
                 "(`mlflow artifacts download -u URI -d DIR`) and set model_uri to DIR";
}

bool ModelUri::moving() const noexcept {
  return kind == Kind::kRegistryAlias || kind == Kind::kRegistryLatest || kind == Kind::kRegistryStage;
}

bool ModelUri::needs_tracking_server() const noexcept {
  if (kind == Kind::kArtifacts) return host.empty();
  return kind != Kind::kLocal && kind != Kind::kHttp && kind != Kind::kS3;
}

ModelUri parse_model_uri(const std::string& uri) {
  if (uri.empty()) malformed(uri, "it is empty");
  if (uri.size() > kMaxModelUriBytes) {
    malformed(uri, "it is longer than the " + std::to_string(kMaxModelUriBytes) +
                       " bytes a model URI may be");
  }
  if (const std::size_t nul = uri.find('\0'); nul != std::string::npos) {
    malformed(uri, "it holds a NUL byte (at byte " + std::to_string(nul) +
                       "), which would cut the path short");
  }
  const std::string scheme = uri_scheme(uri);
  if (scheme.empty() || scheme == "file") {
    ModelUri parsed;
    parsed.kind = ModelUri::Kind::kLocal;
    parsed.uri = uri;
    parsed.local_path = scheme.empty() ? std::filesystem::path(uri) : file_uri_path(uri);
    return parsed;
  }
  const std::string_view rest = std::string_view(uri).substr(scheme.size() + 1);
  if (scheme == "models") return parse_models(uri, rest);
  if (scheme == "runs") return parse_runs(uri, rest);
  if (scheme == "mlflow-artifacts") return parse_artifacts(uri, rest);
  if (scheme == "http" || scheme == "https") return parse_http(uri, scheme);
  if (scheme == "s3") return parse_s3(uri, rest);
  if (scheme == "gs" || scheme == "wasbs" || scheme == "wasb" || scheme == "abfss" || scheme == "abfs") {
    throw Error("model_uri " + quote(uri) + ": " + detail::unsupported_store_text(scheme));
  }
  malformed(uri, "scheme " + quote(scheme + ":") + " is not one inferloop resolves");
}

namespace detail {

std::string model_uri_scheme(std::string_view uri) { return uri_scheme(uri); }

std::filesystem::path file_uri_to_path(const std::string& uri) { return file_uri_path(uri); }

}  // namespace detail

}  // namespace inferloop
