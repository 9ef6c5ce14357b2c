// Model resolution: model_uri -> a model file on local disk, plus what the
// MLmodel file says about it.
//
// resolve_model() parses the URI (the one grammar: src/mlflow/model_uri.cpp);
// local paths and file:// URIs are read here; models:/, runs:/,
// mlflow-artifacts:, http(s) artifact-proxy URLs and s3:// go to an
// MlflowClient, whose fetch() (src/mlflow/client.cpp) downloads the artifacts
// into its cache, and whose resolve() (below) reads that folder here. The
// dependency runs one way: this layer calls the MLflow client, never the
// reverse.
//
// resolve_local() is where every model enters: an MLflow folder's MLmodel
// is read by src/model/mlmodel.cpp (its `data` kept inside the folder), and
// the model file then passes the admission gate (src/model/admission.hpp),
// whose result travels in ResolvedModel::admission to the predictors.
//
// Thread safety: every function here is reentrant; local resolution only
// reads files (MLflow resolution makes a client per call).
#include "inferloop/model_source.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <span>
#include <string_view>
#include <system_error>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/predictor.hpp"
#include "model/admission.hpp"
#include "model/mlmodel.hpp"
#include "model/model_document.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPointAtModel =
    "point model_uri at a model file (XGBoost .json/.ubj, or a LightGBM text model) or an MLflow "
    "model folder";

// --- local models ----------------------------------------------------------

ResolvedModel resolve_local(const std::string& uri, const fs::path& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec).lexically_normal();
  const fs::file_status status = fs::status(absolute, ec);
  if (!fs::exists(status)) {
    throw Error("model_uri " + detail::quote_path(uri) + ": no such file or directory " +
                detail::quote_path(absolute.string()) + "; " + std::string(kPointAtModel));
  }
  ResolvedModel model;
  model.uri = uri;
  model.model_file = absolute;
  if (fs::is_directory(status)) {
    if (!fs::is_regular_file(absolute / "MLmodel", ec)) {
      throw Error("model_uri " + detail::quote_path(uri) + ": folder " + detail::quote_path(absolute.string()) +
                  " has no MLmodel file, so it is not an MLflow model folder; " +
                  std::string(kPointAtModel));
    }
    detail::Mlmodel mlmodel = detail::read_mlmodel(absolute, uri);
    model.model_file = detail::model_file_inside(absolute, mlmodel.data, mlmodel.data_location);
    model.mlmodel_file = absolute / "MLmodel";
    (mlmodel.flavor == "lightgbm" ? model.mlflow_lightgbm_version : model.mlflow_xgb_version) =
        std::move(mlmodel.library_version);
    model.mlflow_flavor = mlmodel.flavor;
    model.signature_inputs = std::move(mlmodel.signature_inputs);
  }
  if (model.mlflow_flavor == "lightgbm" &&
      detect_model_format(model.model_file) != ModelFormat::kLightGBM) {
    throw Error("model_uri " + detail::quote_path(uri) + ": the MLmodel's lightgbm flavor names " +
                detail::quote_path(model.model_file.string()) + ", which is not a LightGBM text "
                "model (it does not start with the line \"tree\"); log the model again with "
                "mlflow.lightgbm.log_model()");
  }
  // The gate: nothing past this line, and no predictor, sees a model file
  // that inferloop's own reader has not validated.
  model.admission = detail::admit_model_file(model.model_file);
  model.format = model.admission->format;
  model.saved_by_version = model.admission->saved_by_version;
  return model;
}

}  // namespace

ResolvedModel resolve_model(const std::string& model_uri) { return resolve_model(model_uri, MlflowOptions{}); }

ResolvedModel resolve_model(const std::string& model_uri, const MlflowOptions& mlflow) {
  if (model_uri.empty()) {
    throw Error("model_uri is empty; " + std::string(kPointAtModel));
  }
  // The one grammar of model URIs (src/mlflow/model_uri.cpp) decides what
  // this is, and refuses what inferloop does not resolve.
  const ModelUri parsed = parse_model_uri(model_uri);
  if (parsed.kind == ModelUri::Kind::kLocal) return resolve_local(model_uri, parsed.local_path);
  // The client is made per call: it reads the environment and opens a
  // connection only for URIs that need a server, never for local paths.
  MlflowClient client(mlflow);
  return client.resolve(model_uri);
}

// MlflowClient's reading half: what fetch() put on disk, read like any local
// model (MLmodel, the admission gate). Here, with the model reading, so that
// the MLflow client (src/mlflow/) depends only on the layers below it.
ResolvedModel MlflowClient::resolve(const std::string& model_uri) {
  FetchedModel fetched = fetch(model_uri);
  ResolvedModel model;
  try {
    model = resolve_local(model_uri, fetched.path);
  } catch (const Error& e) {
    if (!fetched.read_in_place) throw;
    throw Error(std::string(e.what()) + " (the tracking server stores artifacts in a local folder, " +
                fetched.artifact_uri + ", which it does not serve: start it with --serve-artifacts "
                "and --artifacts-destination, or run inferloop where that folder is)");
  }
  model.uri = model_uri;
  model.registry_name = std::move(fetched.registry_name);
  model.registry_version = std::move(fetched.registry_version);
  model.artifact_uri = std::move(fetched.artifact_uri);
  model.cache_path = std::move(fetched.cache_path);
  model.from_cache = fetched.from_cache;
  model.resolution = std::move(fetched.resolution);
  return model;
}

ModelFormat detect_model_format(const fs::path& model_file) {
  std::uint8_t head[5] = {0, 0, 0, 0, 0};  // enough for LightGBM's "tree\n"
  std::ifstream in(model_file, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof head);
  return detail::sniff_model_format(model_file,
                                    std::span<const std::uint8_t>(head, static_cast<std::size_t>(in.gcount())));
}

std::vector<int> read_model_version(const fs::path& model_file, ModelFormat format) {
  if (format == ModelFormat::kLightGBM) {
    throw Error(detail::quote_path(model_file.string()) +
                ": a LightGBM text model, which records no library version (only its format "
                "version, e.g. version=v4); read_model_version() reads XGBoost models");
  }
  // The same bounded reading and parsing the admission gate does (the
  // version alone is not worth a second, laxer parser).
  const auto bytes = detail::read_model_bytes(model_file);
  const nlohmann::json document = detail::parse_model_document(bytes, format, model_file.string());
  return detail::document_version(document, detail::DocumentReader(model_file.string()), format);
}

std::string saved_by_text(const ResolvedModel& model) {
  if (model.format == ModelFormat::kLightGBM) {
    return model.mlflow_lightgbm_version
               ? "saved by lightgbm " + *model.mlflow_lightgbm_version + " (MLmodel lgb_version)"
               : std::string("saved by lightgbm (version not recorded: a model file has only its "
                             "format version)");
  }
  const std::string version = detail::version_text(model.saved_by_version);
  return "saved by xgboost " + (version.empty() ? std::string("unknown (legacy binary format)")
                                                : version) +
         (model.mlflow_xgb_version ? " (MLmodel xgb_version " + *model.mlflow_xgb_version + ")"
                                   : std::string());
}

}  // namespace inferloop
