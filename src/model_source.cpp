// Model sources: model_uri -> a model file on local disk, plus what the
// MLmodel file says about it.
//
// resolve_model() dispatches on the URI's scheme: local paths and file://
// URIs are read here; models:/, runs:/, mlflow-artifacts:, http(s)
// artifact-proxy URLs and s3:// go to an MlflowClient (src/mlflow/client.cpp), which
// downloads the artifacts to a folder in its cache and hands that folder back
// to resolve_local() (exported as detail::resolve_local_model()).
//
// Thread safety: every function here is reentrant; local resolution only
// reads files (MLflow resolution makes a client per call).
#include "inferloop/model_source.hpp"

#include <xgboost/c_api.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string_view>
#include <system_error>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/predictor.hpp"
#include "mlflow/detail.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPointAtModel =
    "point model_uri at a model file (.json/.ubj) or an MLflow model folder";

std::string single_quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string version_text(const std::vector<int>& version) {
  std::string text;
  for (int part : version) text += (text.empty() ? "" : ".") + std::to_string(part);
  return text;
}

std::vector<char> read_bytes(const fs::path& file, std::size_t limit = SIZE_MAX) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error("cannot open model file " + single_quoted(file.string()) + " for reading; check its " +
                "permissions");
  }
  std::vector<char> bytes;
  if (limit == SIZE_MAX) {
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    bytes.resize(limit);
    in.read(bytes.data(), static_cast<std::streamsize>(limit));
    bytes.resize(static_cast<std::size_t>(in.gcount()));
  }
  return bytes;
}

// --- URIs ------------------------------------------------------------------

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
fs::path file_uri_path(const std::string& uri) {
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
                std::string(kPointAtModel) + ", e.g. file:///models/my-model");
  }
  return percent_decode(rest, uri);
}

// --- MLmodel ---------------------------------------------------------------

std::string mark_of(const fs::path& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return file.string();
  return file.string() + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::vector<SignatureColumn> parse_signature_inputs(const fs::path& mlmodel,
                                                    const YAML::Node& inputs_node) {
  const std::string where = mark_of(mlmodel, inputs_node) + ": signature.inputs";
  if (!inputs_node.IsScalar()) {
    throw Error(where + ": expected a JSON string (as MLflow writes it), found a YAML " +
                (inputs_node.IsMap() ? "mapping" : "sequence") +
                "; save the model again with mlflow.xgboost.save_model(..., signature=...)");
  }
  nlohmann::json columns;
  try {
    columns = nlohmann::json::parse(inputs_node.Scalar());
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": is not valid JSON (" + e.what() +
                "); save the model again with mlflow.xgboost.save_model(..., signature=...)");
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
    const std::string type = column.value("type", std::string());
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
      const std::string dtype = spec->value("dtype", std::string());
      return std::vector<SignatureColumn>((*shape)[1].get<std::size_t>(), {"", dtype});
    }
    result.push_back({column.value("name", std::string()), type});
  }
  return result;
}

ResolvedModel resolve_mlmodel(const std::string& uri, const fs::path& folder) {
  const fs::path mlmodel = folder / "MLmodel";
  YAML::Node root;
  try {
    root = YAML::LoadFile(mlmodel.string());
  } catch (const YAML::ParserException& e) {
    throw Error(mlmodel.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": is not valid YAML (" + e.msg +
                "); model_uri " + single_quoted(uri) + " must name an MLflow model folder");
  } catch (const YAML::Exception& e) {
    throw Error(mlmodel.string() + ": cannot be read (" + e.what() + "); model_uri " +
                single_quoted(uri));
  }
  const YAML::Node flavors = root.IsMap() ? root["flavors"] : YAML::Node();
  if (!flavors || !flavors.IsMap()) {
    throw Error(mlmodel.string() + ": has no 'flavors' mapping, so it is not an MLflow model; " +
                "model_uri " + single_quoted(uri) + ": " + std::string(kPointAtModel));
  }
  const YAML::Node xgb = flavors["xgboost"];
  if (!xgb) {
    std::string names;
    for (const auto& flavor : flavors) {
      names += (names.empty() ? "" : ", ") + flavor.first.as<std::string>();
    }
    throw Error(mark_of(mlmodel, flavors) + ": the model has no xgboost flavor (its flavors: " +
                (names.empty() ? std::string("none") : names) +
                "); inferloop serves the xgboost flavor: log the model with "
                "mlflow.xgboost.log_model() or save_model()");
  }
  if (!xgb.IsMap()) {
    throw Error(mark_of(mlmodel, xgb) + ": flavors.xgboost: expected a mapping; log the model " +
                "again with mlflow.xgboost.log_model()");
  }
  const YAML::Node data = xgb["data"];
  if (!data || !data.IsScalar() || data.Scalar().empty()) {
    throw Error(mark_of(mlmodel, xgb) + ": flavors.xgboost.data: missing; it must name the " +
                "model file inside the folder (e.g. data: model.ubj); log the model again");
  }
  const fs::path model_file = (folder / data.Scalar()).lexically_normal();
  std::error_code ec;
  if (!fs::is_regular_file(model_file, ec)) {
    throw Error(mark_of(mlmodel, data) + ": flavors.xgboost.data names " + single_quoted(data.Scalar()) +
                ", but " + single_quoted(model_file.string()) +
                " does not exist; the MLflow model folder is incomplete: download or copy the "
                "whole folder again");
  }
  ResolvedModel model;
  model.uri = uri;
  model.model_file = model_file;
  model.mlmodel_file = mlmodel;
  if (const YAML::Node version = xgb["xgb_version"]; version && version.IsScalar()) {
    model.mlflow_xgb_version = version.Scalar();
  }
  if (const YAML::Node signature = root["signature"]; signature && signature.IsMap()) {
    if (const YAML::Node inputs = signature["inputs"]; inputs && !inputs.IsNull()) {
      model.signature_inputs = parse_signature_inputs(mlmodel, inputs);
    }
  }
  return model;
}

// --- model files -----------------------------------------------------------

bool looks_like_text(const std::vector<char>& head) {
  return !head.empty() && std::all_of(head.begin(), head.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 || byte == '\n' || byte == '\r' || byte == '\t';
  });
}

std::string first_bytes(const std::vector<char>& head) {
  std::string text;
  if (looks_like_text(head)) {
    text.assign(head.begin(), head.begin() + static_cast<long>(std::min<std::size_t>(head.size(), 24)));
    std::replace(text.begin(), text.end(), '\n', ' ');
    return "it starts with " + single_quoted(text);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < std::min<std::size_t>(head.size(), 8); ++i) {
    const auto byte = static_cast<unsigned char>(head[i]);
    text += (text.empty() ? "" : " ");
    text += kHex[byte >> 4];
    text += kHex[byte & 15];
  }
  return "its first bytes are " + text;
}

std::string clean_xgboost_error(const char* message) {
  std::string text = message != nullptr ? message : "";
  if (const std::size_t trace = text.find("\nStack trace:"); trace != std::string::npos) {
    text.resize(trace);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// A file that is neither JSON nor UBJSON may be a legacy binary model, which
// has no self-description to check: only the linked XGBoost can tell.
void check_legacy_binary(const fs::path& file, const std::vector<char>& head) {
  const std::string not_a_model =
      single_quoted(file.string()) + " is not an XGBoost model: ";
  if (looks_like_text(head)) {
    throw Error(not_a_model + "it is a text file but not JSON (" + first_bytes(head) + "); " +
                std::string(kPointAtModel));
  }
  const std::vector<int> library = linked_xgboost_version();
  if (library >= std::vector<int>{3, 1}) {
    throw Error(not_a_model + "it is neither JSON nor UBJSON (" + first_bytes(head) +
                "), and the linked libxgboost " + version_text(library) +
                " reads no other format. If it is a legacy binary model, re-save it as UBJSON "
                "with xgboost < 3.1 (booster.save_model('model.ubj')) or link a libxgboost "
                "older than 3.1");
  }
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) {
    throw Error("XGBoosterCreate failed while checking " + single_quoted(file.string()) + ": " +
                clean_xgboost_error(XGBGetLastError()));
  }
  const int status = XGBoosterLoadModel(booster, file.c_str());
  const std::string message = status != 0 ? clean_xgboost_error(XGBGetLastError()) : "";
  XGBoosterFree(booster);
  if (status != 0) {
    throw Error(not_a_model + "it is neither JSON nor UBJSON (" + first_bytes(head) +
                ") and libxgboost " + version_text(library) +
                " cannot load it as a legacy binary model (" + message + "); " +
                std::string(kPointAtModel));
  }
}

ResolvedModel resolve_local(const std::string& uri, const fs::path& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec).lexically_normal();
  const fs::file_status status = fs::status(absolute, ec);
  if (!fs::exists(status)) {
    throw Error("model_uri " + single_quoted(uri) + ": no such file or directory " +
                single_quoted(absolute.string()) + "; " + std::string(kPointAtModel));
  }
  ResolvedModel model;
  if (fs::is_directory(status)) {
    if (!fs::is_regular_file(absolute / "MLmodel", ec)) {
      throw Error("model_uri " + single_quoted(uri) + ": folder " + single_quoted(absolute.string()) +
                  " has no MLmodel file, so it is not an MLflow model folder; " +
                  std::string(kPointAtModel));
    }
    model = resolve_mlmodel(uri, absolute);
  } else {
    model.uri = uri;
    model.model_file = absolute;
  }
  model.format = detect_model_format(model.model_file);
  if (model.format == ModelFormat::kLegacyBinary) {
    check_legacy_binary(model.model_file, read_bytes(model.model_file, 64));
  } else {
    model.saved_by_version = read_model_version(model.model_file, model.format);
  }
  return model;
}

}  // namespace

namespace detail {

ResolvedModel resolve_local_model(const std::string& uri, const fs::path& path) {
  return resolve_local(uri, path);
}

fs::path file_uri_to_path(const std::string& uri) { return file_uri_path(uri); }

std::string model_uri_scheme(std::string_view uri) { return uri_scheme(uri); }

}  // namespace detail

ResolvedModel resolve_model(const std::string& model_uri) { return resolve_model(model_uri, MlflowOptions{}); }

ResolvedModel resolve_model(const std::string& model_uri, const MlflowOptions& mlflow) {
  if (model_uri.empty()) {
    throw Error("model_uri is empty; " + std::string(kPointAtModel));
  }
  const std::string scheme = uri_scheme(model_uri);
  if (scheme.empty()) return resolve_local(model_uri, fs::path(model_uri));
  if (scheme == "file") return resolve_local(model_uri, file_uri_path(model_uri));
  // The client is made per call: it reads the environment and opens a
  // connection only for URIs that need a server, never for local paths.
  if (scheme == "models" || scheme == "runs" || scheme == "mlflow-artifacts" || scheme == "http" ||
      scheme == "https" || scheme == "s3") {
    MlflowClient client(mlflow);
    return client.resolve(model_uri);
  }
  throw Error("model_uri " + single_quoted(model_uri) + ": URI scheme '" + scheme +
              ":' is not supported: inferloop resolves local paths, file:// URIs, MLflow URIs "
              "(models:/, runs:/, mlflow-artifacts:/, http(s) artifact-proxy URLs) and s3:// URIs; " +
              detail::unsupported_store_text(scheme));
}

ModelFormat detect_model_format(const fs::path& model_file) {
  // XGBoost's own rule (XGBoosterLoadModel): the extension first, then the
  // first two bytes: '{' '"' is JSON, '{' and a letter (a UBJSON type marker)
  // is UBJSON, anything else the legacy binary format.
  const std::string extension = model_file.extension().string();
  if (extension == ".json") return ModelFormat::kJson;
  if (extension == ".ubj") return ModelFormat::kUbjson;
  const std::vector<char> head = read_bytes(model_file, 2);
  if (head.size() == 2 && head[0] == '{') {
    if (head[1] == '"') return ModelFormat::kJson;
    if (std::isalpha(static_cast<unsigned char>(head[1]))) return ModelFormat::kUbjson;
  }
  return ModelFormat::kLegacyBinary;
}

std::vector<int> read_model_version(const fs::path& model_file, ModelFormat format) {
  const std::string not_a_model = single_quoted(model_file.string()) + " is not an XGBoost model: ";
  if (format == ModelFormat::kLegacyBinary) {
    throw Error("cannot read the saving version of " + single_quoted(model_file.string()) +
                ": the legacy binary format does not record it");
  }
  const std::vector<char> bytes = read_bytes(model_file);
  nlohmann::json document;
  try {
    document = format == ModelFormat::kJson ? nlohmann::json::parse(bytes.begin(), bytes.end())
                                            : nlohmann::json::from_ubjson(bytes);
  } catch (const nlohmann::json::exception& e) {
    const std::vector<char> head(bytes.begin(),
                                 bytes.begin() + static_cast<long>(std::min<std::size_t>(bytes.size(), 24)));
    throw Error(not_a_model + "it does not parse as " + to_string(format) + " (" + e.what() +
                "; " + first_bytes(head) + "); " + std::string(kPointAtModel));
  }
  const auto version = document.is_object() ? document.find("version") : document.end();
  if (!document.is_object() || !document.contains("learner") || version == document.end() ||
      !version->is_array() || version->size() != 3 ||
      !std::all_of(version->begin(), version->end(),
                   [](const nlohmann::json& part) { return part.is_number_integer(); })) {
    throw Error(not_a_model + "it is valid " + to_string(format) +
                " but has no 'learner' object and 'version' [major, minor, patch] array; " +
                std::string(kPointAtModel));
  }
  return {(*version)[0].get<int>(), (*version)[1].get<int>(), (*version)[2].get<int>()};
}

std::string to_string(ModelFormat format) {
  switch (format) {
    case ModelFormat::kJson: return "JSON";
    case ModelFormat::kUbjson: return "UBJSON";
    case ModelFormat::kLegacyBinary: return "legacy binary";
  }
  return "unknown";
}

}  // namespace inferloop
