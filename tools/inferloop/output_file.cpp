// An output file checked before the work and written as it goes; see
// output_file.hpp.
#include "output_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "inferloop/error.hpp"

namespace inferloop::cli {
namespace fs = std::filesystem;

void check_output_path(const fs::path& path, std::string_view flag) {
  const std::string named = std::string(flag) + " " + path.string();
  std::error_code error;
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(folder, error)) {
    throw Error(named + ": the folder " + folder.string() +
                " does not exist; create it first or write somewhere else (nothing was run)");
  }
  if (fs::is_directory(path, error)) {
    throw Error(named + ": is a folder; give the path of a file to write (nothing was run)");
  }
  // access() asks with the real user's rights, which is what this process
  // writes with (inferloop is not installed set-uid).
  const bool exists = fs::exists(path, error);
  if (::access(exists ? path.c_str() : folder.c_str(), W_OK) != 0) {
    throw Error(named + ": cannot write " + (exists ? "the file" : "into the folder " + folder.string()) +
                " (" + std::strerror(errno) + "); choose a writable path (nothing was run)");
  }
}

namespace {
constexpr std::size_t kBufferBytes = std::size_t{1} << 20;
}  // namespace

OutputFile::OutputFile(fs::path path, std::string_view flag)
    : path_(std::move(path)), flag_(flag), buffer_(std::make_unique<char[]>(kBufferBytes)) {
  check_output_path(path_, flag_);
  // Before open(): libstdc++'s filebuf takes a buffer only then.
  out_.rdbuf()->pubsetbuf(buffer_.get(), static_cast<std::streamsize>(kBufferBytes));
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    throw Error(flag_ + " " + path_.string() + ": cannot create the file (" + std::strerror(errno) +
                "); check that its folder is writable");
  }
}

void OutputFile::flush() {
  out_.flush();
  if (!out_) {
    throw Error(flag_ + " " + path_.string() + ": writing failed (" + std::strerror(errno) +
                "; disk full?); the file is incomplete");
  }
}

}  // namespace inferloop::cli
