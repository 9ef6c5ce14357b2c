// Model sources: turning a `model_uri` into a model file on local disk.
//
// resolve_model() accepts a local path or a file:// URI, pointing either at a
// model file (XGBoost .json/.ubj, or a LightGBM text model) or at an MLflow
// model folder (a folder holding an `MLmodel` file, whose
// `flavors.xgboost.data` or `flavors.lightgbm.data` names the model file).
// models:/, runs:/, mlflow-artifacts: and http(s) artifact-proxy URIs are
// resolved against an MLflow tracking server by an MlflowClient
// (include/inferloop/mlflow.hpp), which downloads into its cache first.
//
// Thread safety: resolve_model() is reentrant (for MLflow URIs it makes its own
// client per call).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace inferloop {

struct MlflowOptions;

namespace detail {
struct AdmittedModel;  // src/model/admission.hpp
}

// XGBoost's JSON, UBJSON and legacy binary formats, and LightGBM's text
// format (what Booster.save_model writes; the file starts with the line "tree").
enum class ModelFormat { kJson, kUbjson, kLegacyBinary, kLightGBM };

// A column of an MLmodel `signature.inputs`.
struct SignatureColumn {
  std::string name;
  std::string type;  // "double", "float", "long", ... as MLflow writes it
};

struct ResolvedModel {
  std::string uri;                  // as configured
  std::filesystem::path model_file; // the file a predictor loads
  ModelFormat format = ModelFormat::kUbjson;
  // Version of the library that saved the model, {major, minor, patch}, read
  // from the model file itself (JSON/UBJSON `version`). Empty for LightGBM,
  // whose files record only their format version (mlflow_lightgbm_version
  // has the library's, for an MLflow model).
  std::vector<int> saved_by_version;
  // From the MLmodel file, when the URI named an MLflow model folder.
  std::optional<std::filesystem::path> mlmodel_file;
  std::optional<std::string> mlflow_xgb_version;  // flavors.xgboost.xgb_version
  std::optional<std::string> mlflow_lightgbm_version;  // flavors.lightgbm.lgb_version
  // The MLmodel flavor the model file came from: "xgboost" or "lightgbm";
  // empty for a model file named directly.
  std::string mlflow_flavor;
  std::vector<SignatureColumn> signature_inputs;  // empty when there is no signature
  // Registry name and version ("3") when the model came from the MLflow
  // registry; empty otherwise.
  std::string registry_name;
  std::string registry_version;
  // Where MLflow keeps the model ("mlflow-artifacts:/1/models/m-.../artifacts"),
  // for URIs resolved through a tracking server; empty for local models.
  std::string artifact_uri;
  // The local copy in the MLflow cache the model was read from (empty for
  // local models), and whether it was taken from there without asking the
  // server (MlflowOptions::use_cache_when_offline).
  std::filesystem::path cache_path;
  bool from_cache = false;
  // How it was resolved, one line per REST call or cache decision (no secrets).
  std::vector<std::string> resolution;
  // What the model admission gate read and validated from model_file (its
  // bytes and trees); predictors load from this, never from the file again.
  // Null in a ResolvedModel built by hand: predictors then admit the file
  // themselves.
  std::shared_ptr<const detail::AdmittedModel> admission;
};

// Every model file is read and validated by the model admission gate before
// it is returned (docs/forest.md, "The model admission gate"); a model the
// gate refuses, and the legacy binary format, throw here.
// Throws inferloop::Error naming the URI, the path tried and what to do.
// URIs that need MLflow (models:/, runs:/, mlflow-artifacts:/, http(s)://)
// go through an MlflowClient (include/inferloop/mlflow.hpp) with `mlflow`;
// the first overload uses default options (the environment).
[[nodiscard]] ResolvedModel resolve_model(const std::string& model_uri);
[[nodiscard]] ResolvedModel resolve_model(const std::string& model_uri, const MlflowOptions& mlflow);

// Reads `version` from a JSON or UBJSON XGBoost model file. Throws
// inferloop::Error when the file is neither (or is not an XGBoost model;
// a LightGBM model records no library version).
[[nodiscard]] std::vector<int> read_model_version(const std::filesystem::path& model_file,
                                                  ModelFormat format);

// Sniffs the format the way XGBoost does (by extension, then by content),
// and recognises LightGBM's text format by its first line, "tree".
[[nodiscard]] ModelFormat detect_model_format(const std::filesystem::path& model_file);

[[nodiscard]] std::string to_string(ModelFormat format);

// Which library saved the model, for people: "saved by xgboost 3.2.0 (MLmodel
// xgb_version 3.2.0)", "saved by xgboost unknown (legacy binary format)",
// "saved by lightgbm 4.7.0 (MLmodel lgb_version)" or "saved by lightgbm
// (version not recorded: a model file has only its format version)".
[[nodiscard]] std::string saved_by_text(const ResolvedModel& model);

}  // namespace inferloop
