// MlflowClient: a model URI -> REST lookups -> a folder in the local cache.
// It never reads a model: MlflowClient::resolve() (src/model/resolve.cpp, the
// model layer) reads what fetch() returns, so this file depends only on the
// layers below it (REST, S3, the URI grammar, util).
//
// Lifecycle of one fetch():
//   1. parse_model_uri(); a local path is returned as it is.
//   2. REST lookups (src/mlflow/rest.cpp) turn the reference into an
//      artifact_uri: get-download-uri for registry versions (after the alias
//      or latest/stage lookup for moving references), logged-models/<id>, or
//      runs/get (+ the MLflow 3 logged-model fallback).
//   3. For an immutable reference (registry version, run + path, logged model
//      + path), a ref file in cache_dir/refs names the content folder it
//      resolved to before: when that folder exists, nothing is downloaded.
//   4. Otherwise the artifact proxy's listing is walked (or, for artifacts
//      in s3://, the bucket listed by src/s3/s3_client.hpp), every file
//      streamed into cache_dir/tmp-<random>, each size checked against the
//      listing, and the folder renamed to cache_dir/models/<sha1 of its
//      content>.
//      Identical content gets the identical name, so two processes
//      downloading the same model at once both end up with one folder.
//   5. A ref file is written (temp + rename, so readers never see half of
//      one) and the content folder returned.
// With use_cache_when_offline, a failure to reach the server in 2-4 for an
// immutable reference falls back to the ref file written by an earlier run;
// an s3:// URI falls back to what it downloaded last.
//
// Threads: one thread at a time per client (the curl handle); processes may
// share the cache folder (see include/inferloop/mlflow.hpp).
//
// Why one file of ~950 lines: steps 1-5 above are one transaction over one
// cache folder (temp folder, content name, ref file, offline fallback), and
// splitting them would spread that folder's invariants over several files;
// the REST and S3 transports already live apart (rest.cpp, src/s3/).
#include <boost/uuid/detail/sha1.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <system_error>

#include <nlohmann/json.hpp>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "mlflow/best_run.hpp"
#include "mlflow/detail.hpp"
#include "mlflow/rest.hpp"
#include "s3/s3_client.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;
using detail::Call;
using detail::RestError;

constexpr std::string_view kProxyPath = "/api/2.0/mlflow-artifacts/artifacts";
// A listing deeper than this is a server bug or a loop, not a model.
constexpr int kMaxListingDepth = 32;
// Temporary folders left by a crash are removed once they are this old (a
// younger one may belong to a download still running in another process).
constexpr auto kStaleTemporary = std::chrono::hours(1);


// A registry version as the server writes it (MLflow sends a string, "3";
// a number is taken too): a positive decimal integer in int64's range, or
// nullopt. The version goes into request URLs, cache refs and messages, so
// only the canonical digits are kept.
std::optional<std::string> registry_version(const nlohmann::json& number) {
  std::optional<std::int64_t> value;
  if (number.is_string()) value = detail::to_integer(number.get_ref<const std::string&>());
  if (number.is_number_unsigned() && number.get<std::uint64_t>() <= INT64_MAX) {
    value = static_cast<std::int64_t>(number.get<std::uint64_t>());
  }
  if (!value || *value < 1) return std::nullopt;
  return std::to_string(*value);
}

// A JSON value from an answer, for a message: a scalar as JSON text,
// bounded; a collection by its type only (dump() recurses once per nesting
// level, and an answer may nest as deep as its size allows).
std::string json_text(const nlohmann::json& value) {
  if (!value.is_primitive()) return std::string("a JSON ") + value.type_name();
  return detail::quote(value.dump());
}

[[noreturn]] void bad_version(const std::string& uri, std::string_view lookup,
                              const nlohmann::json& number) {
  throw Error("model_uri " + detail::quote_path(uri) + ": the " + std::string(lookup) +
              " answered version " + json_text(number) +
              ", which is not a positive integer in [1, 9223372036854775807]; is the tracking "
              "server MLflow?");
}

std::string join_path(const std::string& base, const std::string& rest) {
  if (rest.empty()) return base;
  if (base.empty()) return rest;
  return base.ends_with('/') ? base + rest : base + "/" + rest;
}

std::string sha1_hex(const std::function<void(boost::uuids::detail::sha1&)>& feed) {
  boost::uuids::detail::sha1 hasher;
  feed(hasher);
  boost::uuids::detail::sha1::digest_type digest;
  hasher.get_digest(digest);
  std::string hex;
  for (unsigned int word : digest) {
    char text[9];
    std::snprintf(text, sizeof text, "%08x", word);
    hex += text;
  }
  return hex;
}

std::string sha1_of(const std::string& text) {
  return sha1_hex([&](boost::uuids::detail::sha1& hasher) { hasher.process_bytes(text.data(), text.size()); });
}

bool is_sha1_hex(const std::string& text) {
  return text.size() == 40 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A file of an artifact listing, relative to the folder downloaded.
struct ArtifactFile {
  std::string path;
  std::uint64_t size = 0;
};

// Where the artifacts of an artifact_uri can be read from.
struct ArtifactLocation {
  bool local = false;
  fs::path local_path;   // local
  bool s3 = false;
  std::string bucket;    // s3
  std::string endpoint;  // proxy: <server>/api/2.0/mlflow-artifacts/artifacts
  std::string path;      // proxy: the artifact path below it; s3: the key
};

// How a download source is named in messages and the resolution log.
std::string shown_source(const ArtifactLocation& location) {
  return location.s3 ? detail::s3_uri(location.bucket, location.path)
                     : detail::redact_url(location.endpoint + "/" + location.path);
}

void check_listed_size(const std::string& model_uri, const std::string& path, std::uint64_t bytes,
                       std::uint64_t max_bytes) {
  if (bytes > max_bytes) {
    throw Error("model_uri " + detail::quote_path(model_uri) + ": artifact " + detail::quote_path(path) + " is " +
                detail::byte_count(bytes) + ", more than max_artifact_bytes (" + detail::byte_count(max_bytes) +
                "); nothing was downloaded. Raise max_artifact_bytes if the model is expected to be "
                "that large");
  }
}

// What a ref file records about one immutable reference.
struct CacheRef {
  std::string content;  // the folder name under cache_dir/models
  std::string file;     // the single file downloaded, or "" for a folder
  std::string artifact_uri;
  std::string registry_name;
  std::string registry_version;
};

// Where a reference resolved to on the server.
struct Target {
  std::string artifact_uri;
  std::string registry_name;
  std::string registry_version;
  std::optional<std::string> ref_key;  // for immutable references
  // The listing, when finding the target needed it already (runs:/).
  std::optional<std::vector<ArtifactFile>> listing;
};

}  // namespace

class MlflowClient::Impl {
 public:
  explicit Impl(const MlflowOptions& given)
      : options(given.from_environment()), rest(options), random(std::random_device{}()) {
    remove_stale_temporaries();
  }

  FetchedModel fetch(const std::string& model_uri);
  std::string current_version(const std::string& model_uri);
  BestRun best_run(const std::string& experiment_name, const std::string& metric, MetricGoal goal);

  MlflowOptions options;
  detail::RestClient rest;

 private:
  // Made on first use, so that S3 settings are read (and their errors
  // raised) only for artifacts that are in S3.
  detail::S3Client& s3() {
    if (!s3_client) s3_client = std::make_unique<detail::S3Client>(options, detail::s3_settings_from_environment());
    return *s3_client;
  }
  ArtifactLocation s3_location(const std::string& model_uri, const std::string& artifact_uri);
  std::vector<ArtifactFile> list_s3(const std::string& model_uri, const ArtifactLocation& location,
                                    std::vector<std::string>& trace);

  std::string tracking(const std::string& model_uri) const;
  std::string api(const std::string& model_uri, const std::string& path) const {
    return tracking(model_uri) + "/api/2.0/mlflow/" + path;
  }
  // Trace lines quote model and artifact URIs: the options' own secrets and
  // any URI's userinfo or secret query values are scrubbed before anyone sees them.
  void note(std::vector<std::string>& trace, const std::string& line) const {
    const std::string clean = detail::scrub_secrets(rest.scrub(line));
    trace.push_back(clean);
    if (options.log) options.log(clean);
  }

  // REST lookups.
  std::string moving_version(const ModelUri& parsed, std::vector<std::string>& trace);
  std::string download_uri(const ModelUri& parsed, const std::string& version,
                           std::vector<std::string>& trace);
  Target locate(const ModelUri& parsed, std::vector<std::string>& trace);
  std::optional<std::string> logged_model_fallback(const ModelUri& parsed, const std::string& experiment_id,
                                                   std::vector<std::string>& trace);

  // Artifacts.
  ArtifactLocation artifact_location(const std::string& model_uri, const std::string& artifact_uri);
  void list_tree(const std::string& model_uri, const ArtifactLocation& location, const std::string& folder,
                 int depth, std::vector<ArtifactFile>& files, std::vector<std::string>& trace);
  std::vector<ArtifactFile> list(const std::string& model_uri, const ArtifactLocation& location,
                                 std::vector<std::string>& trace);
  CacheRef download(const std::string& model_uri, const ArtifactLocation& location,
                    const std::vector<ArtifactFile>& files, std::vector<std::string>& trace);

  // Cache.
  std::string ref_tracking_key() const { return detail::redact_url(options.tracking_uri); }
  fs::path ref_file(const std::string& key) const {
    return options.cache_dir / "refs" / (sha1_of(ref_tracking_key() + "|" + key) + ".json");
  }
  std::optional<CacheRef> read_ref(const std::string& key) const;
  void write_ref(const std::string& key, const std::string& model_uri, const CacheRef& ref);
  std::string random_name();
  void remove_stale_temporaries() noexcept;

  FetchedModel finish(const std::string& model_uri, const CacheRef& ref, bool from_cache,
                       std::vector<std::string>& trace);

  std::mt19937_64 random;
  std::unique_ptr<detail::S3Client> s3_client;
};

// --- REST lookups -----------------------------------------------------------

std::string MlflowClient::Impl::tracking(const std::string& model_uri) const {
  const std::string& uri = options.tracking_uri;
  if (uri.empty()) {
    throw Error("model_uri " + detail::quote_path(model_uri) + " needs an MLflow tracking server, but none is "
                "configured: set MLFLOW_TRACKING_URI (or mlflow_tracking_uri in the config) to "
                "http(s)://host:port of `mlflow server`");
  }
  const std::string scheme = detail::model_uri_scheme(uri);
  if (scheme != "http" && scheme != "https") {
    throw Error("model_uri " + detail::quote_path(model_uri) + ": the tracking URI " +
                detail::quote_path(rest.scrub(detail::redact_url(uri))) +
                " is not an http(s) URL; inferloop talks to a tracking server over REST: start `mlflow "
                "server --backend-store-uri ...` and set MLFLOW_TRACKING_URI to http://host:port");
  }
  return uri;
}

std::string MlflowClient::Impl::moving_version(const ModelUri& parsed, std::vector<std::string>& trace) {
  const std::string& uri = parsed.uri;
  if (parsed.kind == ModelUri::Kind::kRegistryAlias) {
    const Call call{uri,
                    "check the alias exists: in Python, mlflow.MlflowClient().get_model_version_by_alias(" +
                        detail::quote(parsed.name) + ", " + detail::quote(parsed.alias) +
                        "); set it with set_registered_model_alias()",
                    &trace};
    const nlohmann::json answer = rest.get_json(
        api(uri, "registered-models/alias?" + rest.query({{"name", parsed.name}, {"alias", parsed.alias}})),
        call);
    const auto version = answer.find("model_version");
    if (version == answer.end() || !version->is_object() || !version->contains("version")) {
      throw Error("model_uri " + detail::quote_path(uri) + ": the answer to the alias lookup has no "
                  "model_version.version; is the tracking server MLflow 2.3 or later?");
    }
    const nlohmann::json& number = (*version)["version"];
    const std::optional<std::string> text = registry_version(number);
    if (!text) bad_version(uri, "alias lookup", number);
    note(trace, "alias " + parsed.name + "@" + parsed.alias + " -> version " + *text);
    return *text;
  }

  // latest / stage. The server canonicalises stage names, but older ones
  // compare them as written: send MLflow's spelling.
  std::string stage;
  if (parsed.kind == ModelUri::Kind::kRegistryStage) {
    std::string lower = parsed.stage;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    stage = lower == "production" ? "Production" : lower == "staging" ? "Staging"
            : lower == "archived" ? "Archived" : "None";
  }
  const Call call{uri,
                  "check the registered model exists: mlflow.MlflowClient().get_registered_model(" +
                      detail::quote(parsed.name) + ")",
                  &trace};
  nlohmann::json request = {{"name", parsed.name}};
  if (!stage.empty()) request["stages"] = nlohmann::json::array({stage});
  nlohmann::json answer;
  try {
    answer = rest.post_json(api(uri, "registered-models/get-latest-versions"), request, call);
  } catch (const RestError& e) {
    // Servers that predate the POST form answer ENDPOINT_NOT_FOUND.
    if (e.error_code() != "ENDPOINT_NOT_FOUND") throw;
    std::vector<std::pair<std::string, std::string>> query{{"name", parsed.name}};
    if (!stage.empty()) query.emplace_back("stages", stage);
    answer = rest.get_json(api(uri, "registered-models/get-latest-versions?" + rest.query(query)), call);
  }
  std::int64_t best = 0;
  std::string best_text;
  if (const auto versions = answer.find("model_versions"); versions != answer.end() && versions->is_array()) {
    for (const nlohmann::json& version : *versions) {
      if (!version.is_object() || !version.contains("version")) continue;
      const nlohmann::json& number = version["version"];
      // A version that is not a number would otherwise be skipped silently,
      // and "latest" would name an older one.
      const std::optional<std::string> text = registry_version(number);
      if (!text) bad_version(uri, "latest-versions lookup", number);
      const std::int64_t value = *detail::to_integer(*text);
      if (value > best) {
        best = value;
        best_text = *text;
      }
    }
  }
  if (best == 0) {
    throw Error("model_uri " + detail::quote_path(uri) + ": registered model " + detail::quote(parsed.name) +
                (stage.empty() ? " has no versions"
                               : " has no version in stage " + detail::quote(stage)) +
                " (POST " + detail::redact_url(api(uri, "registered-models/get-latest-versions")) +
                "); register one (mlflow.register_model(...))" +
                (stage.empty() ? "" : " or move one to that stage") + ", or name a version: models:/" +
                parsed.name + "/<version>");
  }
  note(trace, (stage.empty() ? "latest" : "stage " + stage) + " of " + parsed.name + " -> version " +
                  best_text);
  return best_text;
}

std::string MlflowClient::Impl::download_uri(const ModelUri& parsed, const std::string& version,
                                             std::vector<std::string>& trace) {
  const std::string& uri = parsed.uri;
  const Call call{uri,
                  "check the model version exists: mlflow.MlflowClient().get_model_version(" +
                      detail::quote(parsed.name) + ", " + detail::quote(version) + ")",
                  &trace};
  const nlohmann::json answer = rest.get_json(
      api(uri, "model-versions/get-download-uri?" + rest.query({{"name", parsed.name}, {"version", version}})),
      call);
  const auto artifact_uri = answer.find("artifact_uri");
  if (artifact_uri == answer.end() || !artifact_uri->is_string() || artifact_uri->get<std::string>().empty()) {
    throw Error("model_uri " + detail::quote_path(uri) + ": get-download-uri for " + parsed.name + " version " +
                version + " answered without an artifact_uri; check the model version in the MLflow UI");
  }
  return artifact_uri->get<std::string>();
}

std::optional<std::string> MlflowClient::Impl::logged_model_fallback(const ModelUri& parsed,
                                                                     const std::string& experiment_id,
                                                                     std::vector<std::string>& trace) {
  // MLflow 3's log_model(name="model") stores the model as a logged model
  // linked to the run, not under the run's artifacts, and its client resolves
  // runs:/<run>/model by searching for it. Same here.
  const std::string& uri = parsed.uri;
  const std::size_t slash = parsed.path.find('/');
  const std::string name = parsed.path.substr(0, slash);
  const std::string rest_of_path = slash == std::string::npos ? "" : parsed.path.substr(slash + 1);
  if (name.find('\'') != std::string::npos || experiment_id.empty()) return std::nullopt;
  const Call call{uri, "", &trace};
  nlohmann::json request = {{"experiment_ids", nlohmann::json::array({experiment_id})},
                            {"filter", "name = '" + name + "'"}};
  for (int page = 0; page < 100; ++page) {
    nlohmann::json answer;
    try {
      answer = rest.post_json(api(uri, "logged-models/search"), request, call);
    } catch (const RestError& e) {
      // MLflow 2.x has no logged models: nothing to fall back to.
      if (e.status() == 404) return std::nullopt;
      throw;
    }
    if (const auto models = answer.find("models"); models != answer.end() && models->is_array()) {
      for (const nlohmann::json& model : *models) {
        const nlohmann::json info = model.is_object() ? model.value("info", nlohmann::json::object())
                                                      : nlohmann::json::object();
        if (!info.is_object() || info.value("source_run_id", std::string()) != parsed.run_id) continue;
        const std::string artifact_uri = info.value("artifact_uri", std::string());
        if (artifact_uri.empty()) continue;
        note(trace, "runs:/" + parsed.run_id + "/" + name + " is logged model " +
                        info.value("model_id", std::string("?")) + " at " + artifact_uri);
        return join_path(artifact_uri, rest_of_path);
      }
    }
    const std::string token = answer.value("next_page_token", std::string());
    if (token.empty()) break;
    request["page_token"] = token;
  }
  return std::nullopt;
}

Target MlflowClient::Impl::locate(const ModelUri& parsed, std::vector<std::string>& trace) {
  const std::string& uri = parsed.uri;
  Target target;
  switch (parsed.kind) {
    case ModelUri::Kind::kRegistryVersion:
    case ModelUri::Kind::kRegistryAlias:
    case ModelUri::Kind::kRegistryLatest:
    case ModelUri::Kind::kRegistryStage: {
      const std::string version =
          parsed.kind == ModelUri::Kind::kRegistryVersion ? parsed.version : moving_version(parsed, trace);
      target.registry_name = parsed.name;
      target.registry_version = version;
      target.artifact_uri = join_path(download_uri(parsed, version, trace), parsed.path);
      target.ref_key = "registry|" + parsed.name + "|" + version + "|" + parsed.path;
      return target;
    }
    case ModelUri::Kind::kLoggedModel: {
      const Call call{uri,
                      "check the logged model exists (mlflow.get_logged_model(" + detail::quote(parsed.model_id) +
                          ")); for a registered model name add a version or alias: models:/" +
                          parsed.model_id + "/<version> or models:/" + parsed.model_id + "@<alias>",
                      &trace};
      const nlohmann::json answer =
          rest.get_json(api(uri, "logged-models/" + rest.escape_path(parsed.model_id)), call);
      const nlohmann::json* found = &answer;
      for (const char* key : {"model", "info", "artifact_uri"}) {
        if (!found->is_object() || !found->contains(key)) {
          throw Error("model_uri " + detail::quote_path(uri) + ": the logged model answer has no "
                      "model.info.artifact_uri; is the tracking server MLflow 3 or later?");
        }
        found = &(*found)[key];
      }
      if (!found->is_string()) throw Error("model_uri " + detail::quote_path(uri) + ": model.info.artifact_uri is not a string");
      target.artifact_uri = join_path(found->get<std::string>(), parsed.path);
      target.ref_key = "logged|" + parsed.model_id + "|" + parsed.path;
      return target;
    }
    case ModelUri::Kind::kRun: {
      const Call call{uri,
                      "check the run id: mlflow.get_run(" + detail::quote(parsed.run_id) + ")", &trace};
      const nlohmann::json answer =
          rest.get_json(api(uri, "runs/get?" + rest.query({{"run_id", parsed.run_id}})), call);
      const nlohmann::json info = answer.contains("run") && answer["run"].is_object()
                                      ? answer["run"].value("info", nlohmann::json::object())
                                      : nlohmann::json::object();
      const std::string root = info.is_object() ? info.value("artifact_uri", std::string()) : "";
      if (root.empty()) {
        throw Error("model_uri " + detail::quote_path(uri) + ": runs/get answered without run.info.artifact_uri; "
                    "check the run in the MLflow UI");
      }
      target.ref_key = "run|" + parsed.run_id + "|" + parsed.path;
      // Cached before: the ref knows whether the path was the run's own
      // artifacts or a logged model, so there is nothing to list.
      if (const std::optional<CacheRef> ref = read_ref(*target.ref_key)) {
        target.artifact_uri = ref->artifact_uri;
        return target;
      }
      target.artifact_uri = join_path(root, parsed.path);
      const ArtifactLocation location = artifact_location(uri, target.artifact_uri);
      if (location.local) return target;
      target.listing = list(uri, location, trace);
      if (target.listing->empty()) {
        const nlohmann::json& experiment = info.contains("experiment_id") ? info["experiment_id"] : nlohmann::json();
        const std::string experiment_id =
            experiment.is_string()      ? experiment.get<std::string>()
            : experiment.is_primitive() && !experiment.is_null() ? experiment.dump()
                                                                 : "";
        if (auto logged = logged_model_fallback(parsed, experiment_id, trace)) {
          target.artifact_uri = *logged;
          target.listing.reset();
        }
      }
      return target;
    }
    case ModelUri::Kind::kArtifacts:
      target.artifact_uri = uri;
      return target;
    case ModelUri::Kind::kHttp:
      target.artifact_uri = uri;
      return target;
    case ModelUri::Kind::kS3:
      target.artifact_uri = uri;
      return target;
    case ModelUri::Kind::kLocal:
      break;
  }
  throw Error("model_uri " + detail::quote_path(uri) + ": internal error: a local URI reached the MLflow client");
}

// --- artifacts --------------------------------------------------------------

namespace {

// The artifact_uri that `model_uri` resolved to, parsed; its parse error says
// which model it came from.
ModelUri parse_artifact_uri(const std::string& model_uri, const std::string& artifact_uri) {
  try {
    return parse_model_uri(artifact_uri);
  } catch (const Error& e) {
    throw Error("model_uri " + detail::quote_path(model_uri) + " resolved to artifact_uri " + detail::quote_path(artifact_uri) +
                ", which inferloop cannot read (" + e.what() + ")");
  }
}

}  // namespace

ArtifactLocation MlflowClient::Impl::artifact_location(const std::string& model_uri,
                                                       const std::string& artifact_uri) {
  ArtifactLocation location;
  const std::string scheme = detail::model_uri_scheme(artifact_uri);
  if (scheme == "mlflow-artifacts" || scheme == "http" || scheme == "https") {
    const ModelUri parsed = parse_artifact_uri(model_uri, artifact_uri);
    if (parsed.kind == ModelUri::Kind::kHttp) {
      location.endpoint = parsed.host + std::string(kProxyPath);
    } else if (parsed.host.empty()) {
      location.endpoint = tracking(model_uri) + std::string(kProxyPath);
    } else {
      // MLflow's client uses the tracking URI's scheme for a proxy host.
      const std::string tracking_scheme = detail::model_uri_scheme(options.tracking_uri);
      location.endpoint = (tracking_scheme == "https" ? "https://" : "http://") + parsed.host +
                          std::string(kProxyPath);
    }
    location.path = parsed.path;
    return location;
  }
  if (scheme == "s3") return s3_location(model_uri, artifact_uri);
  if (scheme == "file" || (scheme.empty() && !artifact_uri.empty() && artifact_uri.front() == '/')) {
    location.local = true;
    location.local_path = scheme == "file" ? detail::file_uri_to_path(artifact_uri) : fs::path(artifact_uri);
    return location;
  }
  throw Error("model_uri " + detail::quote_path(model_uri) + " resolved to artifact_uri " + detail::quote_path(artifact_uri) +
              ", which inferloop cannot download: " + detail::unsupported_store_text(scheme));
}

ArtifactLocation MlflowClient::Impl::s3_location(const std::string& model_uri, const std::string& artifact_uri) {
  const ModelUri parsed = parse_artifact_uri(model_uri, artifact_uri);
  ArtifactLocation location;
  location.s3 = true;
  location.bucket = parsed.host;
  location.path = parsed.path;
  return location;
}

std::vector<ArtifactFile> MlflowClient::Impl::list_s3(const std::string& model_uri, const ArtifactLocation& location,
                                                      std::vector<std::string>& trace) {
  const std::string prefix = location.path + "/";
  const std::string folder_uri = detail::s3_uri(location.bucket, prefix);
  const Call call{model_uri, "check the bucket and the prefix exist: " + s3().ls_command(location.bucket, prefix),
                  &trace};
  std::vector<ArtifactFile> files;
  for (const detail::S3FolderFile& file : detail::s3_folder_files(s3().list(location.bucket, prefix, call), prefix,
                                                                  folder_uri, model_uri, kMaxListingDepth)) {
    check_listed_size(model_uri, detail::s3_uri(location.bucket, prefix + file.path), file.size,
                      options.max_artifact_bytes);
    files.push_back({file.path, file.size});
  }
  return files;
}

void MlflowClient::Impl::list_tree(const std::string& model_uri, const ArtifactLocation& location,
                                   const std::string& folder, int depth, std::vector<ArtifactFile>& files,
                                   std::vector<std::string>& trace) {
  const std::string shown_folder = join_path(location.path, folder);
  if (depth > kMaxListingDepth) {
    throw Error("model_uri " + detail::quote_path(model_uri) + ": the artifact listing of " + detail::quote_path(shown_folder) +
                " is more than " + std::to_string(kMaxListingDepth) +
                " folders deep; check the tracking server's artifact store");
  }
  const Call call{model_uri, "check the artifact path exists: mlflow artifacts list -u " + model_uri, &trace};
  const nlohmann::json answer =
      rest.get_json(location.endpoint + "?" + rest.query({{"path", shown_folder}}), call);
  const auto entries = answer.find("files");
  if (entries == answer.end()) return;
  if (!entries->is_array()) {
    throw Error("model_uri " + detail::quote_path(model_uri) + ": the artifact listing of " + detail::quote_path(shown_folder) +
                " has a 'files' that is not a list; is this an MLflow tracking server?");
  }
  for (const nlohmann::json& entry : *entries) {
    const std::string name = entry.is_object() ? entry.value("path", std::string()) : std::string();
    detail::check_listing_entry(name, shown_folder, model_uri);
    const std::string relative = join_path(folder, name);
    if (entry.value("is_dir", false)) {
      list_tree(model_uri, location, relative, depth + 1, files, trace);
      continue;
    }
    const auto size = entry.find("file_size");
    // A size is a non-negative integer; nlohmann keeps a negative one as
    // number_integer and a fraction as number_float, and refuses neither.
    if (size == entry.end() || !size->is_number_unsigned()) {
      throw Error("model_uri " + detail::quote_path(model_uri) + ": the artifact listing gives " +
                  (size == entry.end() ? std::string("no file_size")
                                       : "file_size " + json_text(*size) +
                                             ", not a byte count in [0, 18446744073709551615],") +
                  " for " + detail::quote_path(join_path(shown_folder, name)) +
                  "; check the tracking server's artifact store");
    }
    const auto bytes = size->get<std::uint64_t>();
    check_listed_size(model_uri, join_path(shown_folder, name), bytes, options.max_artifact_bytes);
    files.push_back({relative, bytes});
  }
}

std::vector<ArtifactFile> MlflowClient::Impl::list(const std::string& model_uri, const ArtifactLocation& location,
                                                   std::vector<std::string>& trace) {
  if (location.s3) return list_s3(model_uri, location, trace);
  std::vector<ArtifactFile> files;
  list_tree(model_uri, location, "", 0, files, trace);
  std::sort(files.begin(), files.end(),
            [](const ArtifactFile& a, const ArtifactFile& b) { return a.path < b.path; });
  return files;
}

CacheRef MlflowClient::Impl::download(const std::string& model_uri, const ArtifactLocation& location,
                                      const std::vector<ArtifactFile>& listed, std::vector<std::string>& trace) {
  std::vector<ArtifactFile> files = listed;
  // An empty listing is an empty folder or a single file (both answer {}):
  // try the path as a file, and let its answer tell which.
  const bool single_file = files.empty();
  std::string file_name;
  if (single_file) {
    const std::size_t slash = location.path.rfind('/');
    file_name = slash == std::string::npos ? location.path : location.path.substr(slash + 1);
    detail::check_listing_entry(file_name, location.path, model_uri);
    files.push_back({file_name, 0});
  }

  std::error_code ec;
  fs::create_directories(options.cache_dir / "models", ec);
  if (ec) {
    throw Error("model_uri " + detail::quote_path(model_uri) + ": cannot create the model cache folder " +
                detail::quote_path((options.cache_dir / "models").string()) + " (" + ec.message() +
                "); set model_cache_dir to a writable folder");
  }
  const fs::path temporary = options.cache_dir / ("tmp-" + random_name());
  fs::create_directory(temporary, ec);
  if (ec) {
    throw Error("model_uri " + detail::quote_path(model_uri) + ": cannot create " + detail::quote_path(temporary.string()) + " (" +
                ec.message() + "); check the permissions of the model cache folder");
  }
  // Whatever fails below, the half-written folder goes: nothing may trust it.
  struct RemoveOnFailure {
    fs::path folder;
    bool keep = false;
    ~RemoveOnFailure() {
      std::error_code ignored;
      if (!keep) fs::remove_all(folder, ignored);
    }
  } guard{temporary};

  std::uint64_t total = 0;
  for (const ArtifactFile& file : files) {
    const std::string artifact_path = single_file ? location.path : join_path(location.path, file.path);
    const fs::path destination = temporary / fs::path(file.path);
    fs::create_directories(destination.parent_path(), ec);
    Call call{model_uri,
              single_file ? "the artifact listing of " + detail::quote_path(location.path) +
                                " is empty and it is not a file either; check the path: mlflow artifacts "
                                "list -u " + model_uri
                          : std::string(),
              &trace, single_file};
    if (location.s3) {
      // A failing GET of an object is never a folder in disguise: retry as usual.
      call.probe = false;
      if (single_file) {
        call.hint = "nothing is listed under " + detail::s3_uri(location.bucket, location.path + "/") +
                    " and there is no object " + detail::s3_uri(location.bucket, location.path) +
                    " either; check the URI: " + s3().ls_command(location.bucket, location.path);
      }
    }
    const std::uint64_t written =
        location.s3 ? s3().download(location.bucket, artifact_path, destination, options.max_artifact_bytes, call)
                    : rest.download(location.endpoint + "/" + rest.escape_path(artifact_path), destination,
                                    options.max_artifact_bytes, call);
    if (!single_file && written != file.size) {
      throw Error("model_uri " + detail::quote_path(model_uri) + ": truncated artifact " + detail::quote_path(artifact_path) +
                  ": the listing says " + detail::byte_count(file.size) + " but " +
                  detail::byte_count(written) + " arrived; the temporary download folder " +
                  detail::quote_path(temporary.string()) + " was removed. Try again; if it persists, check the "
                  "tracking server's artifact store");
    }
    total += written;
  }

  // The content address: every file's relative path, size and bytes, in path
  // order, so equal folders get equal names whoever downloads them.
  const std::string content = sha1_hex([&](boost::uuids::detail::sha1& hasher) {
    std::vector<char> buffer(1 << 16);
    for (const ArtifactFile& file : files) {
      const fs::path on_disk = temporary / fs::path(file.path);
      const std::string header = file.path + '\0' + std::to_string(fs::file_size(on_disk)) + '\0';
      hasher.process_bytes(header.data(), header.size());
      std::ifstream in(on_disk, std::ios::binary);
      while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        hasher.process_bytes(buffer.data(), static_cast<std::size_t>(in.gcount()));
      }
    }
  });
  const fs::path final_folder = options.cache_dir / "models" / content;
  fs::rename(temporary, final_folder, ec);
  if (ec) {
    std::error_code exists_ec;
    if (!fs::is_directory(final_folder, exists_ec)) {
      throw Error("model_uri " + detail::quote_path(model_uri) + ": cannot move the download into the cache as " +
                  detail::quote_path(final_folder.string()) + " (" + ec.message() +
                  "); check the permissions of the model cache folder");
    }
    // Another download of identical content got there first; keep its folder.
  } else {
    guard.keep = true;
  }
  note(trace, "downloaded " + std::to_string(files.size()) + (files.size() == 1 ? " file (" : " files (") +
                  detail::byte_count(total) + ") from " + shown_source(location) + " to " +
                  final_folder.string());
  CacheRef ref;
  ref.content = content;
  ref.file = single_file ? file_name : "";
  return ref;
}

// --- cache ------------------------------------------------------------------

std::string MlflowClient::Impl::random_name() {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(random()));
  return text;
}

void MlflowClient::Impl::remove_stale_temporaries() noexcept {
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - kStaleTemporary;
  for (const fs::path& folder : {options.cache_dir, options.cache_dir / "refs"}) {
    fs::directory_iterator entries(folder, ec);
    if (ec) continue;
    for (const fs::directory_entry& entry : entries) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with("tmp-") && !name.starts_with(".tmp-")) continue;
      std::error_code entry_ec;
      const auto written = fs::last_write_time(entry.path(), entry_ec);
      if (!entry_ec && written < cutoff) fs::remove_all(entry.path(), entry_ec);
    }
  }
}

std::optional<CacheRef> MlflowClient::Impl::read_ref(const std::string& key) const {
  std::ifstream in(ref_file(key));
  if (!in) return std::nullopt;
  const nlohmann::json stored = nlohmann::json::parse(in, nullptr, false);
  if (!stored.is_object()) return std::nullopt;
  CacheRef ref;
  ref.content = stored.value("content", std::string());
  ref.file = stored.value("file", std::string());
  ref.artifact_uri = stored.value("artifact_uri", std::string());
  ref.registry_name = stored.value("registry_name", std::string());
  ref.registry_version = stored.value("registry_version", std::string());
  // A ref names a folder under models/: anything but a SHA-1 (or a file name
  // with a separator) is a damaged file, not a path to follow.
  if (!is_sha1_hex(ref.content)) return std::nullopt;
  if (!ref.file.empty() && (ref.file.find('/') != std::string::npos || ref.file.find('\\') != std::string::npos ||
                            ref.file == "." || ref.file == "..")) {
    return std::nullopt;
  }
  std::error_code ec;
  const fs::path folder = options.cache_dir / "models" / ref.content;
  if (!fs::is_directory(folder, ec)) return std::nullopt;
  if (!ref.file.empty() && !fs::is_regular_file(folder / ref.file, ec)) return std::nullopt;
  return ref;
}

void MlflowClient::Impl::write_ref(const std::string& key, const std::string& model_uri, const CacheRef& ref) {
  const fs::path target = ref_file(key);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  const fs::path temporary = target.parent_path() / (".tmp-" + random_name() + ".json");
  const nlohmann::json stored = {{"content", ref.content},
                                 {"file", ref.file},
                                 {"artifact_uri", ref.artifact_uri},
                                 {"registry_name", ref.registry_name},
                                 {"registry_version", ref.registry_version},
                                 {"tracking_uri", ref_tracking_key()},
                                 {"key", key},
                                 {"uri", model_uri}};
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << rest.scrub(stored.dump(2)) << '\n';
    out.close();
    if (!out) {
      fs::remove(temporary, ec);
      // The model itself is in the cache; only the offline shortcut is lost.
      if (options.log) options.log("could not write cache ref " + target.string() + "; continuing");
      return;
    }
  }
  fs::rename(temporary, target, ec);
  if (ec) fs::remove(temporary, ec);
}

FetchedModel MlflowClient::Impl::finish(const std::string& model_uri, const CacheRef& ref, bool from_cache,
                                        std::vector<std::string>& trace) {
  (void)model_uri;
  const fs::path folder = options.cache_dir / "models" / ref.content;
  FetchedModel fetched;
  fetched.path = ref.file.empty() ? folder : folder / ref.file;
  fetched.registry_name = ref.registry_name;
  fetched.registry_version = ref.registry_version;
  fetched.artifact_uri = ref.artifact_uri;
  fetched.cache_path = folder;
  fetched.from_cache = from_cache;
  fetched.resolution = std::move(trace);
  return fetched;
}

// --- fetch ------------------------------------------------------------------

FetchedModel MlflowClient::Impl::fetch(const std::string& model_uri) {
  const ModelUri parsed = parse_model_uri(model_uri);
  if (parsed.kind == ModelUri::Kind::kLocal) {
    FetchedModel local;
    local.path = parsed.local_path;
    return local;
  }

  std::vector<std::string> trace;
  // The key of an immutable reference is known before asking the server,
  // which is what makes the offline fallback possible.
  std::optional<std::string> offline_key;
  if (parsed.kind == ModelUri::Kind::kRegistryVersion) {
    offline_key = "registry|" + parsed.name + "|" + parsed.version + "|" + parsed.path;
  } else if (parsed.kind == ModelUri::Kind::kLoggedModel) {
    offline_key = "logged|" + parsed.model_id + "|" + parsed.path;
  } else if (parsed.kind == ModelUri::Kind::kRun) {
    offline_key = "run|" + parsed.run_id + "|" + parsed.path;
  } else if (parsed.kind == ModelUri::Kind::kS3) {
    // Objects in S3 can change: always downloaded while the store answers,
    // and what was downloaded last is what an offline start may use.
    offline_key = "s3|" + s3().settings().endpoint_url + "|" + parsed.host + "|" + parsed.path;
  }

  try {
    const Target target = locate(parsed, trace);
    if (target.ref_key) {
      if (std::optional<CacheRef> ref = read_ref(*target.ref_key)) {
        note(trace, "cache hit: " + model_uri + " -> " +
                        (options.cache_dir / "models" / ref->content).string());
        if (!target.artifact_uri.empty()) ref->artifact_uri = target.artifact_uri;
        ref->registry_name = target.registry_name;
        ref->registry_version = target.registry_version;
        return finish(model_uri, *ref, false, trace);
      }
    }
    const ArtifactLocation location = artifact_location(model_uri, target.artifact_uri);
    if (location.local) {
      // A server whose artifact store is a folder it does not proxy: readable
      // only when that folder is on this machine too.
      note(trace, "artifact_uri " + target.artifact_uri + " is a local path; reading it in place");
      FetchedModel in_place;
      in_place.path = location.local_path;
      in_place.read_in_place = true;
      in_place.registry_name = target.registry_name;
      in_place.registry_version = target.registry_version;
      in_place.artifact_uri = target.artifact_uri;
      in_place.resolution = std::move(trace);
      return in_place;
    }
    CacheRef ref = download(model_uri, location,
                            target.listing ? *target.listing : list(model_uri, location, trace), trace);
    ref.artifact_uri = target.artifact_uri;
    ref.registry_name = target.registry_name;
    ref.registry_version = target.registry_version;
    if (target.ref_key) write_ref(*target.ref_key, model_uri, ref);
    if (parsed.kind == ModelUri::Kind::kS3) write_ref(*offline_key, model_uri, ref);
    return finish(model_uri, ref, false, trace);
  } catch (const RestError& e) {
    if (!e.unreachable() || !options.use_cache_when_offline) throw;
    if (parsed.moving()) {
      throw Error(std::string(e.what()) + ". use_cache_when_offline cannot help: " + model_uri +
                  " is a moving reference (alias, stage or latest) whose version only the server "
                  "knows; to start without the server, name a version (models:/" + parsed.name +
                  "/<version>)");
    }
    if (!offline_key) throw;
    std::optional<CacheRef> ref = read_ref(*offline_key);
    if (!ref) {
      throw Error(std::string(e.what()) + ". use_cache_when_offline: no cached copy of " + model_uri +
                  " in " + options.cache_dir.string() +
                  " either; resolve it once while the server is reachable");
    }
    note(trace, std::string("started from the cache because the ") +
                    (parsed.kind == ModelUri::Kind::kS3 ? "S3 store" : "tracking server") +
                    " was unreachable: " + model_uri +
                    " -> " + (options.cache_dir / "models" / ref->content).string());
    return finish(model_uri, *ref, true, trace);
  }
}

std::string MlflowClient::Impl::current_version(const std::string& model_uri) {
  const ModelUri parsed = parse_model_uri(model_uri);
  if (parsed.kind == ModelUri::Kind::kRegistryVersion) return parsed.version;
  if (!parsed.moving()) return "";
  std::vector<std::string> trace;
  return moving_version(parsed, trace);
}

BestRun MlflowClient::Impl::best_run(const std::string& experiment_name, const std::string& metric,
                                     MetricGoal goal) {
  const std::string what = "the best run of experiment " + detail::quote(experiment_name);
  if (options.tracking_uri.empty()) {
    throw Error(what + " needs an MLflow tracking server, but none is configured: set MLFLOW_TRACKING_URI "
                "(or mlflow_tracking_uri in the config, or --tracking-uri) to http(s)://host:port of `mlflow server`");
  }
  const detail::BestRunLookup lookup{
      rest, tracking(what) + "/api/2.0/mlflow/",
      [this](std::vector<std::string>& trace, const std::string& line) { note(trace, line); }};
  return detail::find_best_run(lookup, experiment_name, metric, goal);
}

// --- MlflowClient -----------------------------------------------------------

MlflowClient::MlflowClient(MlflowOptions options) : impl_(std::make_unique<Impl>(options)) {}
MlflowClient::~MlflowClient() = default;

FetchedModel MlflowClient::fetch(const std::string& model_uri) { return impl_->fetch(model_uri); }

std::string MlflowClient::current_version(const std::string& model_uri) {
  return impl_->current_version(model_uri);
}

BestRun MlflowClient::best_run(const std::string& experiment_name, const std::string& metric, MetricGoal goal) {
  return impl_->best_run(experiment_name, metric, goal);
}

const MlflowOptions& MlflowClient::options() const noexcept { return impl_->options; }

}  // namespace inferloop
