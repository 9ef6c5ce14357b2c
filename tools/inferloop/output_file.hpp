// An output file of an inferloop subcommand (--results, --output).
//
// Two steps, so that no work is lost and no file is clobbered for nothing:
// check_output_path() runs first thing, before the config or any input is
// read, and refuses a path whose folder does not exist or cannot be written
// (naming the path), so a long run never ends in "cannot create the results
// file". OutputFile then creates (truncates) the file just before the work
// starts, after the config and the inputs were read, so a typo in the
// config leaves an earlier results file as it was. Writers append as they
// go, and flush() hands what is written to the operating system, so an
// interrupted run keeps it.
//
// One owner thread: the subcommand's main thread, or the one writer thread
// it hands the file to.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

namespace inferloop::cli {

// Throws inferloop::Error when `path` cannot be created or written: its
// folder is missing or read-only, or it names a folder or a read-only file.
// `flag` names where the path came from in messages ("--results").
void check_output_path(const std::filesystem::path& path, std::string_view flag);

class OutputFile {
 public:
  // Checks `path` as check_output_path does, then creates (truncates) it.
  // Throws inferloop::Error when that fails.
  OutputFile(std::filesystem::path path, std::string_view flag);
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  [[nodiscard]] std::ostream& stream() noexcept { return out_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  // Hands buffered text to the operating system. Throws inferloop::Error
  // when a write failed (disk full, I/O error).
  void flush();

 private:
  std::filesystem::path path_;
  std::string flag_;
  // The stream's buffer: 1 MiB, so that a million result lines are a
  // hundred-odd writes, not the 12,500 the default 8 KiB buffer makes.
  std::unique_ptr<char[]> buffer_;
  std::ofstream out_;
};

}  // namespace inferloop::cli
