// libFuzzer target for the MLmodel reader (src/model/mlmodel.hpp): any bytes
// as an MLflow model folder's MLmodel file must give the xgboost flavor's
// `data` and signature or an inferloop::Error; never a crash, a hang, a
// runaway allocation or another exception type. A `data` the reader
// accepts is then resolved inside a scratch model folder (holding a model
// file, a sub-folder and a symbolic link out of the folder), and a path it
// returns must lie inside the folder: otherwise the target traps. Build and
// run: see docs/fuzzing.md.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "inferloop/error.hpp"
#include "model/mlmodel.hpp"

namespace {

namespace fs = std::filesystem;

// The scratch model folder, made once per process and removed at exit.
const fs::path& model_folder() {
  static const fs::path folder = [] {
    const fs::path made =
        fs::temp_directory_path() / ("inferloop-mlmodel-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(made / "sub");
    std::ofstream(made / "model.ubj") << "{}";
    std::error_code ignored;
    fs::create_symlink("/", made / "out", ignored);
    std::atexit([] {
      std::error_code error;
      fs::remove_all(model_folder(), error);
    });
    return made;
  }();
  return folder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const fs::path& folder = model_folder();
  try {
    const auto mlmodel = inferloop::detail::parse_mlmodel(text, folder / "MLmodel", "fuzz-uri");
    const fs::path file =
        inferloop::detail::model_file_inside(folder, mlmodel.data, mlmodel.data_location);
    // The promise: what `data` names is inside the folder, after every link.
    const fs::path real_folder = fs::canonical(folder);
    const fs::path real_file = fs::canonical(file);
    const auto relative = real_file.lexically_relative(real_folder);
    if (relative.empty() || *relative.begin() == "..") __builtin_trap();
  } catch (const inferloop::Error&) {
    // The expected outcome for most inputs.
  }
  return 0;
}
