// S3Client: lists and downloads objects of an S3 store (AWS, or an
// S3-compatible one such as MinIO or Ceph behind MLFLOW_S3_ENDPOINT_URL) for
// MlflowClient (src/mlflow/client.cpp), which hands it the bucket and key of
// an s3:// artifact location and keeps everything else to itself: the cache,
// the size and path checks, the temporary folder and the offline rule.
//
// Requests go through a RestClient (src/mlflow/rest.hpp), so retries,
// backoff, Retry-After, timeouts and cancellation are exactly MLflow's
// (MlflowOptions); only the Service differs: requests are signed with AWS
// Signature V4 by libcurl itself (CURLOPT_AWS_SIGV4, with the credentials
// and region of S3Settings), and a failure is explained with S3's error Code
// and Message and the variable to set. libcurl 7.88 (Debian 12) signs only
// the headers it is given and the query as it is sent, so every signed
// request carries x-amz-content-sha256 (S3 refuses a signature without it)
// and listing URLs have their parameters sorted (s3_settings.hpp).
//
// No secret reaches a message or a log line: the secret key, the session
// token and the access key id are scrubbed from every one, and headers are
// never printed.
//
// Threads: one thread at a time (one libcurl easy handle).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "inferloop/mlflow.hpp"
#include "mlflow/rest.hpp"
#include "s3/s3_listing.hpp"
#include "s3/s3_settings.hpp"

namespace inferloop::detail {

class S3Client {
 public:
  // `options`: MlflowOptions with the environment applied; its retry,
  // timeout, log and cancel settings are used, its MLflow credentials and
  // TLS settings are not (they belong to the tracking server).
  S3Client(const MlflowOptions& options, S3Settings settings);

  // Every object whose key starts with `prefix`, over as many ListObjectsV2
  // pages as the store sends. Throws RestError for a failed request and
  // inferloop::Error for a page that makes no sense (s3_listing.hpp), a
  // continuation token sent twice, or more than kMaxObjects objects.
  std::vector<S3Object> list(const std::string& bucket, const std::string& prefix, const Call& call);

  // Streams the object into `file` (see RestClient::download()). Returns the
  // bytes written.
  std::uint64_t download(const std::string& bucket, const std::string& key, const std::filesystem::path& file,
                         std::uint64_t max_bytes, const Call& call);

  [[nodiscard]] const S3Settings& settings() const noexcept { return settings_; }
  // "aws s3 ls s3://bucket/prefix/ --endpoint-url http://..." for hints.
  [[nodiscard]] std::string ls_command(const std::string& bucket, const std::string& prefix) const;

  // A model folder has a handful of files; this many keys below a prefix is
  // the wrong prefix (a bucket's root, say), not a model.
  static constexpr std::size_t kMaxObjects = 100'000;

 private:
  S3Settings settings_;
  RestClient rest_;
};

}  // namespace inferloop::detail
