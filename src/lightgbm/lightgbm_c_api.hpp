// LightGBM's C API, loaded once per process from lib_lightgbm.so, as a table
// of the functions LightGBMPredictor calls, each typed by LightGBM's own
// header (LightGBM/c_api.h of the same version; cmake/InferloopLightGBM.cmake).
//
// Why loaded at run time rather than linked: the C library lives inside the
// PyPI wheel, so linking it would make libinferloop and every consumer of
// its installed package depend on a Python site-packages path, for a
// predictor most users never pick (ForestPredictor evaluates LightGBM models
// natively, bit for bit the same).
//
// Which file: $INFERLOOP_LIGHTGBM_LIBRARY when set and not empty, else the
// file the build was configured with (INFERLOOP_LIGHTGBM_LIBRARY), else
// "lib_lightgbm.so" through the dynamic loader's search path. The library is
// never unloaded.
//
// Threads: lightgbm_c_api() may be called from any thread; the first call
// loads the library (a failed load is retried by the next call), later calls
// return the same table.
#pragma once

#include <LightGBM/c_api.h>

#include <string>

namespace inferloop::detail {

struct LightGBMCApi {
  std::string library_file;  // as dlopen() was given it
  std::string version;       // the wheel's VERSION.txt beside lib/, or "" when absent
  decltype(&LGBM_GetLastError) get_last_error = nullptr;
  decltype(&LGBM_BoosterLoadModelFromString) load_model_from_string = nullptr;
  decltype(&LGBM_BoosterFree) booster_free = nullptr;
  decltype(&LGBM_BoosterGetNumClasses) get_num_classes = nullptr;
  decltype(&LGBM_BoosterGetNumFeature) get_num_feature = nullptr;
  decltype(&LGBM_BoosterPredictForMat) predict_for_mat = nullptr;
  decltype(&LGBM_BoosterPredictForMatSingleRowFastInit) single_row_fast_init = nullptr;
  decltype(&LGBM_BoosterPredictForMatSingleRowFast) single_row_fast = nullptr;
  decltype(&LGBM_FastConfigFree) fast_config_free = nullptr;
};

// The loaded table. Throws inferloop::Error naming the file tried, the
// loader's reason and what to do.
[[nodiscard]] const LightGBMCApi& lightgbm_c_api();

}  // namespace inferloop::detail
