// Reading an MLflow model folder's MLmodel file: see mlmodel.hpp.
#include "model/mlmodel.hpp"

#include <algorithm>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "inferloop/error.hpp"
#include "model/admission.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSaveAgain =
    "save the model again with mlflow.xgboost.save_model(..., signature=...)";

std::string mark_of(const fs::path& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return file.string();
  return file.string() + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// `path` lies strictly inside `folder` (both canonical).
bool is_inside(const fs::path& folder, const fs::path& path) {
  const auto [folder_end, path_rest] =
      std::mismatch(folder.begin(), folder.end(), path.begin(), path.end());
  return folder_end == folder.end() && path_rest != path.end();
}

// Whether `path`, with every symbolic link resolved, stays inside `folder`.
bool resolves_inside(const fs::path& folder, const fs::path& path) {
  std::error_code folder_error;
  std::error_code path_error;
  const fs::path real_folder = fs::canonical(folder, folder_error);
  const fs::path real_path = fs::canonical(path, path_error);
  return !folder_error && !path_error && is_inside(real_folder, real_path);
}

// A string member of a signature column: "" when absent.
std::string column_text(const nlohmann::json& column, const char* key, const std::string& where) {
  const auto found = column.find(key);
  if (found == column.end()) return {};
  if (!found->is_string()) {
    throw Error(where + ": \"" + key + "\" of an input is a " + found->type_name() +
                ", expected a string; " + std::string(kSaveAgain));
  }
  return found->get<std::string>();
}

std::vector<SignatureColumn> parse_signature_inputs(const fs::path& mlmodel,
                                                    const YAML::Node& inputs_node) {
  const std::string where = mark_of(mlmodel, inputs_node) + ": signature.inputs";
  if (!inputs_node.IsScalar()) {
    throw Error(where + ": expected a JSON string (as MLflow writes it), found a YAML " +
                (inputs_node.IsMap() ? "mapping" : "sequence") + "; " + std::string(kSaveAgain));
  }
  nlohmann::json columns;
  try {
    columns = nlohmann::json::parse(inputs_node.Scalar());
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": is not valid JSON (" + quote(e.what(), 200) + "); " +
                std::string(kSaveAgain));
  }
  if (!columns.is_array()) {
    throw Error(where + ": expected a JSON array of columns, found " +
                std::string(columns.type_name()));
  }
  std::vector<SignatureColumn> result;
  for (const auto& column : columns) {
    if (!column.is_object()) {
      throw Error(where + ": expected each input to be a JSON object, found " +
                  std::string(column.type_name()));
    }
    const std::string type = column_text(column, "type", where);
    if (type == "tensor") {
      // A tensor signature (from a numpy example) has no column names; its
      // shape [-1, N] still gives the width, so record N unnamed columns.
      const auto spec = column.find("tensor-spec");
      if (spec == column.end() || !spec->is_object()) return {};
      const auto shape = spec->find("shape");
      if (shape == spec->end() || !shape->is_array() || shape->size() != 2 ||
          !(*shape)[1].is_number_integer() || (*shape)[1].get<long long>() <= 0) {
        return {};  // no fixed width to check against
      }
      if ((*shape)[1].get<long long>() > kMaxFeatures) {
        throw Error(where + ": the tensor has " + std::to_string((*shape)[1].get<long long>()) +
                    " inputs per row; inferloop serves at most " + std::to_string(kMaxFeatures));
      }
      const std::string dtype = column_text(*spec, "dtype", where);
      return std::vector<SignatureColumn>((*shape)[1].get<std::size_t>(), {"", dtype});
    }
    result.push_back({column_text(column, "name", where), type});
  }
  return result;
}

Mlmodel parse_yaml(const YAML::Node& root, const fs::path& mlmodel, std::string_view uri) {
  const YAML::Node flavors = root.IsMap() ? root["flavors"] : YAML::Node();
  if (!flavors || !flavors.IsMap()) {
    throw Error(mlmodel.string() + ": has no 'flavors' mapping, so it is not an MLflow model; " +
                "model_uri " + quote(uri) +
                ": point model_uri at a model file (.json/.ubj) or an MLflow model folder");
  }
  // The flavors inferloop reads, in order of preference: a model logged by
  // mlflow.xgboost or mlflow.lightgbm (each also has python_function).
  static constexpr std::string_view kServed[] = {"xgboost", "lightgbm"};
  std::string flavor;
  YAML::Node entry;
  for (const std::string_view served : kServed) {
    if (const YAML::Node found = flavors[std::string(served)]) {
      flavor = std::string(served);
      entry = found;
      break;
    }
  }
  if (flavor.empty()) {
    std::string names;
    for (const auto& listed : flavors) {
      const std::string name = listed.first.IsScalar() ? listed.first.Scalar() : "?";
      names += (names.empty() ? "" : ", ") + quote(name);
    }
    throw Error(mark_of(mlmodel, flavors) + ": the model has no xgboost or lightgbm flavor (its "
                "flavors: " + (names.empty() ? std::string("none") : names) +
                "); inferloop serves those two: log the model with mlflow.xgboost.log_model() "
                "or mlflow.lightgbm.log_model()");
  }
  const std::string key = "flavors." + flavor;
  if (!entry.IsMap()) {
    throw Error(mark_of(mlmodel, entry) + ": " + key + ": expected a mapping; log the model " +
                "again with mlflow." + flavor + ".log_model()");
  }
  const YAML::Node data = entry["data"];
  if (!data || !data.IsScalar() || data.Scalar().empty()) {
    throw Error(mark_of(mlmodel, entry) + ": " + key + ".data: missing; it must name the " +
                "model file inside the folder (e.g. data: " +
                (flavor == "xgboost" ? "model.ubj" : "model.lgb") + "); log the model again");
  }
  if (flavor == "lightgbm") {
    // mlflow.lightgbm stores a Booster as its text model, but pickles (or
    // skops-serializes) a scikit-learn LGBMModel, which inferloop cannot read.
    const YAML::Node model_class = entry["model_class"];
    if (model_class && model_class.IsScalar() && model_class.Scalar() != "lightgbm.basic.Booster") {
      throw Error(mark_of(mlmodel, model_class) + ": " + key + ".model_class is " +
                  quote(model_class.Scalar()) + ", which mlflow.lightgbm stores serialized as a "
                  "Python object; inferloop reads LightGBM's text model: log the estimator's "
                  "booster (mlflow.lightgbm.log_model(model.booster_, ...))");
    }
  }
  Mlmodel result;
  result.flavor = flavor;
  result.data = data.Scalar();
  result.data_location = mark_of(mlmodel, data) + ": " + key + ".data";
  const char* version_key = flavor == "xgboost" ? "xgb_version" : "lgb_version";
  if (const YAML::Node version = entry[version_key]; version && version.IsScalar()) {
    result.library_version = version.Scalar();
  }
  if (const YAML::Node signature = root["signature"]; signature && signature.IsMap()) {
    if (const YAML::Node inputs = signature["inputs"]; inputs && !inputs.IsNull()) {
      result.signature_inputs = parse_signature_inputs(mlmodel, inputs);
    }
  }
  return result;
}

}  // namespace

Mlmodel parse_mlmodel(std::string_view text, const fs::path& mlmodel, std::string_view uri) {
  try {
    return parse_yaml(YAML::Load(std::string(text)), mlmodel, uri);
  } catch (const YAML::ParserException& e) {
    throw Error(mlmodel.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": is not valid YAML (" + e.msg +
                "); model_uri " + quote(uri) + " must name an MLflow model folder");
  } catch (const YAML::Exception& e) {
    // A node of an unexpected kind somewhere parse_yaml() looked.
    throw Error(mlmodel.string() + ": cannot be read as an MLmodel file (" + quote(e.what(), 200) +
                "); model_uri " + quote(uri) + " must name an MLflow model folder");
  }
}

fs::path model_file_inside(const fs::path& folder, const std::string& data,
                           const std::string& data_location) {
  const std::string names = data_location + " names " + quote(data, 4096);
  if (data.find('\0') != std::string::npos) {
    // The file system would see only the part before it.
    throw Error(names + ", which holds a NUL character; log the model again");
  }
  const fs::path relative(data);
  if (relative.has_root_name() || relative.has_root_directory()) {
    throw Error(names + ", an absolute path; it must name the model file inside the MLflow model "
                        "folder (e.g. data: model.ubj): log the model again");
  }
  const fs::path normal = relative.lexically_normal();
  if (normal.empty() || normal == "." || *normal.begin() == "..") {
    throw Error(names + ", which is outside the MLflow model folder; it must name the model file "
                        "inside it (e.g. data: model.ubj): log the model again");
  }
  const fs::path file = (folder / normal).lexically_normal();
  std::error_code error;
  const fs::file_status status = fs::status(file, error);
  if (!fs::exists(status)) {
    throw Error(names + ", but " + quote(file.string(), 4096) +
                " does not exist; the MLflow model folder is incomplete: download or copy the "
                "whole folder again");
  }
  if (!resolves_inside(folder, file)) {
    throw Error(names + ", which resolves (through a symbolic link) to a file outside the MLflow "
                        "model folder; inferloop reads only files inside it: copy the model file "
                        "into the folder");
  }
  if (!fs::is_regular_file(status)) {
    throw Error(names + ", which is not a regular file; it must name the model file (e.g. data: "
                        "model.ubj): log the model again");
  }
  return file;
}

Mlmodel read_mlmodel(const fs::path& folder, std::string_view uri) {
  const fs::path mlmodel = folder / "MLmodel";
  if (!resolves_inside(folder, mlmodel)) {
    throw Error(mlmodel.string() + ": is a symbolic link to a file outside the MLflow model "
                                   "folder; inferloop reads only files inside it");
  }
  std::error_code error;
  const std::uintmax_t size = fs::file_size(mlmodel, error);
  if (error) throw Error(mlmodel.string() + ": cannot be read (" + error.message() + ")");
  if (size > kMaxMlmodelBytes) {
    throw Error(mlmodel.string() + ": is " + std::to_string(size) +
                " bytes; an MLmodel file is a few KiB and inferloop reads at most " +
                std::to_string(kMaxMlmodelBytes) + " bytes of it");
  }
  std::ifstream in(mlmodel, std::ios::binary);
  if (!in) throw Error(mlmodel.string() + ": cannot be opened for reading; check its permissions");
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_mlmodel(text, mlmodel, uri);
}

}  // namespace inferloop::detail
