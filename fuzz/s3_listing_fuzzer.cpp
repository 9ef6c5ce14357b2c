// libFuzzer target for what an S3 store answers (src/s3/s3_listing.hpp): any
// bytes, read as a ListObjectsV2 page and as an error reply, must give a
// result or an inferloop::Error; never a crash, a bad read or a hang. A page
// that parses also has its keys turned into model-folder paths below the
// folder of its first key, so the path checks are fuzzed too. The seed
// corpus (fuzz/corpus/s3_listing/) holds replies captured from moto.
#include <cstddef>
#include <cstdint>
#include <string>

#include "inferloop/error.hpp"
#include "s3/s3_listing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const inferloop::detail::S3ListPage page = inferloop::detail::parse_list_objects_page(text, "fuzz-input");
    if (!page.objects.empty()) {
      const std::string& first = page.objects.front().key;
      const std::size_t slash = first.rfind('/');
      const std::string prefix = slash == std::string::npos ? "" : first.substr(0, slash + 1);
      (void)inferloop::detail::s3_folder_files(page.objects, prefix, "s3://bucket/" + prefix, "s3://bucket/model", 32);
    }
  } catch (const inferloop::Error&) {
    // The expected outcome for almost every mutated input.
  }
  (void)inferloop::detail::describe_s3_error_body(text);
  (void)inferloop::detail::s3_error_code(text);
  return 0;
}
