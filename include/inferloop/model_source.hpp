// Model sources: turning a `model_uri` into a model file on local disk.
//
// resolve_model() accepts a local path or a file:// URI, pointing either at a
// model file (.json, .ubj, legacy binary) or at an MLflow model folder (a
// folder holding an `MLmodel` file, whose `flavors.xgboost.data` names the
// model file). Other schemes (models:/, runs:/, mlflow-artifacts:/, http(s))
// are resolved against an MLflow tracking server; this is the one place to add
// them (see ModelResolver in src/model_source.cpp).
//
// Thread safety: resolve_model() is reentrant; it only reads the filesystem.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace inferloop {

enum class ModelFormat { kJson, kUbjson, kLegacyBinary };

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
  // from the model file itself (JSON/UBJSON `version`). Empty for the legacy
  // binary format, which does not record it.
  std::vector<int> saved_by_version;
  // From the MLmodel file, when the URI named an MLflow model folder.
  std::optional<std::filesystem::path> mlmodel_file;
  std::optional<std::string> mlflow_xgb_version;  // flavors.xgboost.xgb_version
  std::vector<SignatureColumn> signature_inputs;  // empty when there is no signature
  // Registry version ("3") when the model came from the MLflow registry;
  // empty for local models.
  std::string registry_version;
};

// Throws inferloop::Error naming the URI, the path tried and what to do.
[[nodiscard]] ResolvedModel resolve_model(const std::string& model_uri);

// Reads `version` from a JSON or UBJSON XGBoost model file. Throws
// inferloop::Error when the file is neither (or is not an XGBoost model).
[[nodiscard]] std::vector<int> read_model_version(const std::filesystem::path& model_file,
                                                  ModelFormat format);

// Sniffs the format the way XGBoost does: by extension, then by content.
[[nodiscard]] ModelFormat detect_model_format(const std::filesystem::path& model_file);

[[nodiscard]] std::string to_string(ModelFormat format);

}  // namespace inferloop
