// The MLmodel file of an MLflow model folder: which file in the folder is
// the model (flavors.xgboost.data, or flavors.lightgbm.data for a model
// logged with mlflow.lightgbm), the library version MLflow recorded, and the
// signature's input columns.
//
// The folder may come from anywhere (a download, a shared drive), so its
// MLmodel is input like any other: it is read only up to kMaxMlmodelBytes,
// every message quotes it through detail::quote, and `data` must name a
// regular file inside the folder: absolute paths, ".." escapes and symlinks
// that leave the folder are refused before anything is read from the file
// they name. MLmodel itself must lie inside the folder for the same reason.
//
// Pure functions over the file system; any thread.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inferloop/model_source.hpp"

namespace inferloop::detail {

// MLflow writes a few KiB; a signature of 10,000 columns is about 500 KiB.
inline constexpr std::uintmax_t kMaxMlmodelBytes = std::uintmax_t{4} << 20;

struct Mlmodel {
  std::string flavor;                    // "xgboost", or "lightgbm" when there is no xgboost flavor
  std::string data;                      // flavors.<flavor>.data, as written
  // "MLmodel:4:11: flavors.xgboost.data", for messages about `data`.
  std::string data_location;
  // flavors.xgboost.xgb_version or flavors.lightgbm.lgb_version.
  std::optional<std::string> library_version;
  std::vector<SignatureColumn> signature_inputs;  // empty without a signature
};

// Parses MLmodel text; `mlmodel_file` and `uri` only name things in
// messages. Throws inferloop::Error (file:line:column, what to do) when it
// is not YAML, has neither an xgboost nor a lightgbm flavor, no `data`, or a malformed signature.
[[nodiscard]] Mlmodel parse_mlmodel(std::string_view text,
                                           const std::filesystem::path& mlmodel_file,
                                           std::string_view uri);

// `data` resolved inside `folder`: folder/data, lexically normal. Throws
// inferloop::Error (naming `data_location`) when data is absolute, climbs
// out with "..", names something that is not a regular file, or resolves
// (through symlinks) outside the folder.
[[nodiscard]] std::filesystem::path model_file_inside(const std::filesystem::path& folder,
                                                      const std::string& data,
                                                      const std::string& data_location);

// Reads folder/MLmodel (a regular file inside the folder, at most
// kMaxMlmodelBytes) and parses it. `uri` is named in messages.
[[nodiscard]] Mlmodel read_mlmodel(const std::filesystem::path& folder,
                                          std::string_view uri);

}  // namespace inferloop::detail
