// Model sources: model_uri -> a model file on local disk, plus what the
// MLmodel file says about it.
//
// resolve_model() dispatches on the URI's scheme: local paths and file://
// URIs are read here; models:/, runs:/, mlflow-artifacts:, http(s)
// artifact-proxy URLs and s3:// go to an MlflowClient (src/mlflow/client.cpp), which
// downloads the artifacts to a folder in its cache and hands that folder back
// to resolve_local() (exported as detail::resolve_local_model()).
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
#include "mlflow/detail.hpp"
#include "model/admission.hpp"
#include "model/mlmodel.hpp"
#include "model/model_document.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPointAtModel =
    "point model_uri at a model file (.json/.ubj) or an MLflow model folder";

// URIs and paths are input: quoted, with room for a long path.
std::string single_quoted(std::string_view text) { return detail::quote(text, 4096); }

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

// --- local models ----------------------------------------------------------

ResolvedModel resolve_local(const std::string& uri, const fs::path& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec).lexically_normal();
  const fs::file_status status = fs::status(absolute, ec);
  if (!fs::exists(status)) {
    throw Error("model_uri " + single_quoted(uri) + ": no such file or directory " +
                single_quoted(absolute.string()) + "; " + std::string(kPointAtModel));
  }
  ResolvedModel model;
  model.uri = uri;
  model.model_file = absolute;
  if (fs::is_directory(status)) {
    if (!fs::is_regular_file(absolute / "MLmodel", ec)) {
      throw Error("model_uri " + single_quoted(uri) + ": folder " + single_quoted(absolute.string()) +
                  " has no MLmodel file, so it is not an MLflow model folder; " +
                  std::string(kPointAtModel));
    }
    detail::MlmodelXgboost mlmodel = detail::read_mlmodel(absolute, uri);
    model.model_file = detail::model_file_inside(absolute, mlmodel.data, mlmodel.data_location);
    model.mlmodel_file = absolute / "MLmodel";
    model.mlflow_xgb_version = std::move(mlmodel.xgb_version);
    model.signature_inputs = std::move(mlmodel.signature_inputs);
  }
  // The gate: nothing past this line, and no predictor, sees a model file
  // that inferloop's own reader has not validated.
  model.admission = detail::admit_model_file(model.model_file);
  model.format = model.admission->format;
  model.saved_by_version = model.admission->saved_by_version;
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
  std::uint8_t head[2] = {0, 0};
  std::ifstream in(model_file, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof head);
  return detail::sniff_model_format(model_file,
                                    std::span<const std::uint8_t>(head, static_cast<std::size_t>(in.gcount())));
}

std::vector<int> read_model_version(const fs::path& model_file, ModelFormat format) {
  // The same bounded reading and parsing the admission gate does (the
  // version alone is not worth a second, laxer parser).
  const auto bytes = detail::read_model_bytes(model_file);
  const nlohmann::json document = detail::parse_model_document(bytes, format, model_file.string());
  return detail::document_version(document, detail::DocumentReader(model_file.string()), format);
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
