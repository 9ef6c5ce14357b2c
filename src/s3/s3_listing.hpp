// What an S3 store answers, read with pugixml: one ListObjectsV2 page
// (ListBucketResult), an error reply (<Error><Code/><Message/></Error>), and
// the step from a listing's keys to the relative paths of a model folder.
//
// Everything here reads bytes a server chose, so every rule is checked, never
// assumed: a page that is not XML or not a ListBucketResult, an object
// without Key or Size, a Size or KeyCount that is not a number in range
// (src/util/checked.hpp), a KeyCount that disagrees with the objects listed,
// a truncated page without a continuation token, an unknown EncodingType, a
// key outside the prefix asked for or one whose path would leave the model
// folder (check_listing_entry, src/mlflow/detail.hpp) is an inferloop::Error
// saying where. fuzz/s3_listing_fuzzer.cpp feeds these functions any bytes.
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inferloop::detail {

struct S3Object {
  std::string key;  // decoded (EncodingType url undone)
  std::uint64_t size = 0;
};

struct S3ListPage {
  std::vector<S3Object> objects;
  bool truncated = false;           // IsTruncated: another page follows
  std::string continuation_token;   // NextContinuationToken; never empty when truncated
};

// One ListObjectsV2 page. `where` names it in messages ("listing of
// s3://bucket/prefix/, page 2"). Throws inferloop::Error.
[[nodiscard]] S3ListPage parse_list_objects_page(std::string_view xml, const std::string& where);

// S3's error reply; nullopt when `xml` is not one (not XML, or no <Error>
// root with a Code).
struct S3ErrorReply {
  std::string code;     // "NoSuchKey", "SignatureDoesNotMatch", ...
  std::string message;  // "The specified key does not exist."
};
[[nodiscard]] std::optional<S3ErrorReply> parse_s3_error(std::string_view xml);

// An error body for a message: "NoSuchKey: 'The specified key does not
// exist.'" for S3's reply (Code and Message only: the other elements of some
// replies echo the access key id and the string that was signed), else what
// describe_error_body() makes of it. "" for an empty body.
[[nodiscard]] std::string describe_s3_error_body(const std::string& body);
// Just the Code, "" when there is none.
[[nodiscard]] std::string s3_error_code(const std::string& body);

// A file of a model folder in S3, relative to the folder.
struct S3FolderFile {
  std::string path;  // "MLmodel", "sub/file.json"
  std::uint64_t size = 0;
};

// The keys of a listing of `prefix` (which ends in '/') as paths relative to
// it, sorted. Folder markers (keys ending in '/', as consoles create them)
// are skipped. Throws inferloop::Error ("path-escaping listing") for a key
// outside the prefix, one with an empty, "." or ".." segment, a NUL or a
// backslash, or deeper than `max_depth` folders; `folder_uri` and
// `model_uri` name them in the message.
[[nodiscard]] std::vector<S3FolderFile> s3_folder_files(const std::vector<S3Object>& objects,
                                                        const std::string& prefix,
                                                        const std::string& folder_uri,
                                                        const std::string& model_uri, int max_depth);

}  // namespace inferloop::detail
