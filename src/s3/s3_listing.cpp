// ListObjectsV2 pages, S3 error replies and model-folder paths: see
// s3_listing.hpp.
#include "s3/s3_listing.hpp"

#include <curl/curl.h>

#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <set>

#include "inferloop/error.hpp"
#include "mlflow/detail.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

// A single S3 reply is small (1000 keys are ~300 KB); anything near this is
// not an S3 store talking.
constexpr std::size_t kMaxDocumentBytes = std::size_t{64} << 20;

pugi::xml_document load(std::string_view xml, pugi::xml_parse_result& result) {
  pugi::xml_document document;
  // parse_default keeps entity and character references decoded and drops
  // comments and processing instructions; no DTD is ever read, so nothing
  // outside the bytes given is fetched or expanded.
  result = document.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  return document;
}

// EncodingType url: keys are percent-encoded with '+' for a space (as S3
// writes them; a literal '+' arrives as %2B).
std::string url_decode(std::string text, const std::string& where) {
  std::replace(text.begin(), text.end(), '+', ' ');
  int length = 0;
  char* decoded = curl_easy_unescape(nullptr, text.c_str(), narrow<int>(text.size(), where + ": key length"),
                                     &length);
  if (decoded == nullptr) throw Error("curl_easy_unescape failed (out of memory?)");
  std::string result(decoded, static_cast<std::size_t>(length));
  curl_free(decoded);
  return result;
}

bool is_token(std::string_view text) {
  return !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

S3ListPage parse_list_objects_page(std::string_view xml, const std::string& where) {
  if (xml.size() > kMaxDocumentBytes) {
    throw Error(where + ": the answer is " + std::to_string(xml.size()) + " bytes, too large for a listing page");
  }
  pugi::xml_parse_result parsed;
  const pugi::xml_document document = load(xml, parsed);
  if (!parsed) {
    throw Error(where + ": the answer is not XML (" + parsed.description() + " at byte " +
                std::to_string(parsed.offset) + "; it starts " + quote(xml.substr(0, 60)) +
                "); is the endpoint an S3 store (MLFLOW_S3_ENDPOINT_URL)?");
  }
  const pugi::xml_node root = document.document_element();
  if (std::string_view(root.name()) != "ListBucketResult") {
    throw Error(where + ": the answer is XML but not a ListObjectsV2 result (its root element is " +
                quote(root.name()) + ", not ListBucketResult); is the endpoint an S3 store "
                "(MLFLOW_S3_ENDPOINT_URL)?");
  }

  S3ListPage page;
  if (const pugi::xml_node truncated = root.child("IsTruncated")) {
    page.truncated = parse_boolean(truncated.child_value(), where + ": IsTruncated");
  }
  bool url_encoded = false;
  if (const pugi::xml_node encoding = root.child("EncodingType")) {
    const std::string_view type = encoding.child_value();
    if (type != "url") {
      throw Error(where + ": EncodingType " + quote(type) + " is not 'url', the only encoding S3 defines");
    }
    url_encoded = true;
  }
  std::uint64_t listed = 0;
  for (const pugi::xml_node contents : root.children("Contents")) {
    const pugi::xml_node key = contents.child("Key");
    const pugi::xml_node size = contents.child("Size");
    const std::string object = "object " + std::to_string(listed + 1);
    if (!key || !size) {
      throw Error(where + ": " + object + " has no " + (key ? "Size" : "Key") + "; is the endpoint an S3 store?");
    }
    S3Object entry;
    entry.key = url_encoded ? url_decode(key.child_value(), where) : std::string(key.child_value());
    if (entry.key.empty()) throw Error(where + ": " + object + " has an empty Key");
    entry.size = parse_integer<std::uint64_t>(size.child_value(), where + ": Size of key " + quote(entry.key));
    page.objects.push_back(std::move(entry));
    ++listed;
  }
  // Without a delimiter there are no common prefixes; counting them keeps the
  // check right for a store that sends them anyway.
  for ([[maybe_unused]] const pugi::xml_node prefix : root.children("CommonPrefixes")) ++listed;
  if (const pugi::xml_node key_count = root.child("KeyCount")) {
    const auto count = parse_integer<std::uint64_t>(key_count.child_value(), where + ": KeyCount");
    if (count != listed) {
      throw Error(where + ": KeyCount says " + std::to_string(count) + " keys but the page lists " +
                  std::to_string(listed) + "; the answer is damaged or cut short. Try again; if it persists, "
                  "check the S3 store");
    }
  }
  if (page.truncated) {
    page.continuation_token = root.child("NextContinuationToken").child_value();
    if (page.continuation_token.empty()) {
      throw Error(where + ": IsTruncated is true but there is no NextContinuationToken to ask for the next "
                  "page; is the endpoint an S3 store that supports ListObjectsV2?");
    }
  }
  return page;
}

std::optional<S3ErrorReply> parse_s3_error(std::string_view xml) {
  if (xml.empty() || xml.size() > kMaxDocumentBytes) return std::nullopt;
  pugi::xml_parse_result parsed;
  const pugi::xml_document document = load(xml, parsed);
  if (!parsed) return std::nullopt;
  const pugi::xml_node root = document.document_element();
  if (std::string_view(root.name()) != "Error" || !root.child("Code")) return std::nullopt;
  return S3ErrorReply{root.child("Code").child_value(), root.child("Message").child_value()};
}

std::string describe_s3_error_body(const std::string& body) {
  const std::optional<S3ErrorReply> reply = parse_s3_error(body);
  if (!reply) return describe_error_body(body);
  const std::string code = is_token(reply->code) ? reply->code : quote(reply->code, 64);
  return reply->message.empty() ? code : code + ": " + quote(reply->message, 200);
}

std::string s3_error_code(const std::string& body) {
  const std::optional<S3ErrorReply> reply = parse_s3_error(body);
  return reply && is_token(reply->code) ? reply->code : "";
}

std::vector<S3FolderFile> s3_folder_files(const std::vector<S3Object>& objects, const std::string& prefix,
                                          const std::string& folder_uri, const std::string& model_uri,
                                          int max_depth) {
  std::vector<S3FolderFile> files;
  std::set<std::string> folders;  // every folder some key lies in
  for (const S3Object& object : objects) {
    if (!object.key.starts_with(prefix)) {
      throw Error("model_uri " + quote(model_uri) + ": path-escaping listing: the listing of " + quote(folder_uri) +
                  " names the key " + quote(object.key) + ", which is not under the prefix " + quote(prefix) +
                  "; nothing was written. Check the S3 store");
    }
    const std::string relative = object.key.substr(prefix.size());
    if (relative.empty() || (relative.ends_with('/') && object.size == 0)) continue;  // a folder marker
    int depth = 0;
    std::size_t start = 0;
    while (true) {
      const std::size_t slash = relative.find('/', start);
      try {
        check_listing_entry(relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start),
                            folder_uri, model_uri);
      } catch (const Error& e) {
        throw Error(std::string(e.what()) + " (the key is " + quote(object.key) + ")");
      }
      if (slash == std::string::npos) break;
      if (++depth > max_depth) {
        throw Error("model_uri " + quote(model_uri) + ": the key " + quote(object.key) + " is more than " +
                    std::to_string(max_depth) + " folders deep below " + quote(folder_uri) +
                    "; a model folder is not; check the S3 prefix");
      }
      folders.insert(relative.substr(0, slash));
      start = slash + 1;
    }
    files.push_back({relative, object.size});
  }
  // S3 keys are names, not paths: "p/a" and "p/a/b" can both exist, but a
  // folder cannot hold a file and a folder of the same name.
  for (const S3FolderFile& file : files) {
    if (folders.contains(file.path)) {
      throw Error("model_uri " + quote(model_uri) + ": the listing of " + quote(folder_uri) + " has both a file " +
                  quote(file.path) + " and keys below " + quote(file.path + "/") +
                  ", which a folder on disk cannot hold; check the S3 prefix");
    }
  }
  std::sort(files.begin(), files.end(), [](const S3FolderFile& a, const S3FolderFile& b) { return a.path < b.path; });
  return files;
}

}  // namespace inferloop::detail
