// Loads LightGBM's C library (see lightgbm_c_api.hpp).
#include "lightgbm/lightgbm_c_api.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "inferloop/error.hpp"
#include "util/text.hpp"

#ifndef INFERLOOP_DEFAULT_LIGHTGBM_LIBRARY
#define INFERLOOP_DEFAULT_LIGHTGBM_LIBRARY ""
#endif

namespace inferloop::detail {
namespace {

// The advice every failure to load the library ends with.
constexpr std::string_view kHowToGetTheLibrary =
    "install the lightgbm wheel (pip install lightgbm) and set INFERLOOP_LIGHTGBM_LIBRARY to its "
    "<site-packages>/lightgbm/lib/lib_lightgbm.so, or use predictor_class_name: ForestPredictor, "
    "which evaluates LightGBM models natively";

std::string library_to_load() {
  if (const char* from_environment = std::getenv("INFERLOOP_LIGHTGBM_LIBRARY");
      from_environment != nullptr && *from_environment != '\0') {
    return from_environment;
  }
  if (const std::string_view configured = INFERLOOP_DEFAULT_LIGHTGBM_LIBRARY; !configured.empty()) {
    return std::string(configured);
  }
  return "lib_lightgbm.so";
}

// The wheel keeps lib/lib_lightgbm.so beside VERSION.txt.
std::string wheel_version(const std::string& library_file) {
  std::error_code error;
  const std::filesystem::path version_file =
      std::filesystem::path(library_file).parent_path().parent_path() / "VERSION.txt";
  if (!std::filesystem::is_regular_file(version_file, error)) return "";
  std::ifstream in(version_file);
  std::string version;
  std::getline(in, version);
  while (!version.empty() && (version.back() == '\r' || version.back() == ' ')) version.pop_back();
  return version.size() <= 32 ? version : "";
}

template <typename Function>
void bind(void* library, const std::string& file, const char* symbol, Function& slot) {
  dlerror();
  void* address = dlsym(library, symbol);
  if (address == nullptr) {
    throw Error("LightGBM's C library " + file + " has no " + symbol +
                " (it is not LightGBM's C library, or one older than the header inferloop was built with): " +
                std::string(kHowToGetTheLibrary));
  }
  slot = reinterpret_cast<Function>(address);
}

LightGBMCApi load() {
  LightGBMCApi api;
  api.library_file = library_to_load();
  void* library = dlopen(api.library_file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* reason = dlerror();
    throw Error("LightGBMPredictor cannot load LightGBM's C library " +
                detail::quote(api.library_file, 200) + ": " +
                (reason != nullptr ? std::string(reason) : std::string("unknown reason")) + "; " +
                std::string(kHowToGetTheLibrary));
  }
  try {
    bind(library, api.library_file, "LGBM_GetLastError", api.get_last_error);
    bind(library, api.library_file, "LGBM_BoosterLoadModelFromString", api.load_model_from_string);
    bind(library, api.library_file, "LGBM_BoosterFree", api.booster_free);
    bind(library, api.library_file, "LGBM_BoosterGetNumClasses", api.get_num_classes);
    bind(library, api.library_file, "LGBM_BoosterGetNumFeature", api.get_num_feature);
    bind(library, api.library_file, "LGBM_BoosterPredictForMat", api.predict_for_mat);
    bind(library, api.library_file, "LGBM_BoosterPredictForMatSingleRowFastInit",
         api.single_row_fast_init);
    bind(library, api.library_file, "LGBM_BoosterPredictForMatSingleRowFast", api.single_row_fast);
    bind(library, api.library_file, "LGBM_FastConfigFree", api.fast_config_free);
  } catch (...) {
    dlclose(library);
    throw;
  }
  api.version = wheel_version(api.library_file);
  return api;  // the library stays loaded for the process's lifetime
}

}  // namespace

const LightGBMCApi& lightgbm_c_api() {
  // A throwing initialiser leaves the static uninitialised: the next call tries again.
  static const LightGBMCApi api = load();
  return api;
}

}  // namespace inferloop::detail
