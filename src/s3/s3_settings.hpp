// Where an S3 store is and how to sign for it: credentials, region and
// endpoint, read the way MLflow's own S3 artifact repository (boto3) reads
// them, so a process that can `mlflow artifacts download` from a bucket can
// resolve the same model with inferloop. Also the request URLs for a bucket
// and key.
//
// Precedence (each step only when the one before found nothing):
//   credentials  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//                then profile AWS_PROFILE (else AWS_DEFAULT_PROFILE, else
//                "default") in the shared credentials file
//                (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials);
//                then that profile in the config file (AWS_CONFIG_FILE, else
//                ~/.aws/config, section [profile NAME] or [default]);
//                else none: requests go unsigned (a public bucket).
//   region       AWS_REGION, AWS_DEFAULT_REGION, the profile's `region` in the
//                config file, else us-east-1.
//   endpoint     MLFLOW_S3_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
//                (an S3-compatible store: MinIO, Ceph; path-style URLs
//                http(s)://endpoint/bucket/key), else AWS itself
//                (https://bucket.s3.REGION.amazonaws.com/key).
//   TLS          MLFLOW_S3_IGNORE_TLS=true: no verification; AWS_CA_BUNDLE: a
//                CA bundle.
// The INI files are read with Boost.PropertyTree's ini_parser. Anything that
// cannot be right (half a key pair, a profile that was asked for by name and
// is not there, an unparsable file or value) is an inferloop::Error naming
// the variable or file:line and what to do; never silently a default.
//
// Nothing here keeps state or touches the network; any thread. Secrets are
// held in S3Settings and must never be put into a message: use
// S3Settings::secrets() to scrub.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace inferloop::detail {

struct S3Settings {
  // Empty access_key_id: no credentials anywhere; requests go unsigned.
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;       // temporary credentials (STS); "" when none
  std::string credentials_source;  // "AWS_ACCESS_KEY_ID", "profile 'dev' in /home/me/.aws/credentials"
  std::string region;              // never empty
  std::string region_source;       // "AWS_REGION", ..., or "the default"
  std::string endpoint_url;        // "" = AWS; else scheme://host[:port][/path], no trailing '/'
  std::string endpoint_source;     // "MLFLOW_S3_ENDPOINT_URL", ...
  bool ignore_tls = false;         // MLFLOW_S3_IGNORE_TLS
  std::string ca_bundle;           // AWS_CA_BUNDLE
  // Keys per listing page (ListObjectsV2 max-keys): INFERLOOP_S3_MAX_KEYS,
  // else 1000 (S3's own default and maximum, and then not sent).
  std::uint32_t max_keys = 1000;

  // The values a message must never show (the secret key, the session
  // token, the access key id).
  [[nodiscard]] std::vector<std::string> secrets() const;
};

// Returns the value of an environment variable, "" when unset. An empty
// value counts as unset, as it does for boto3.
using EnvironmentLookup = std::function<std::string(const char* name)>;

// The settings from `environment` and the files it names. Throws
// inferloop::Error (see the file comment).
[[nodiscard]] S3Settings s3_settings(const EnvironmentLookup& environment);
// The same from the process environment (getenv).
[[nodiscard]] S3Settings s3_settings_from_environment();

// The URL of object `key` in `bucket`, each key segment percent-encoded once
// (which is also SigV4's canonical form for S3).
[[nodiscard]] std::string s3_object_url(const S3Settings& settings, const std::string& bucket,
                                        const std::string& key);
// The URL of one ListObjectsV2 page of `prefix` (keys URL-encoded in the
// answer: encoding-type=url). The query parameters are sorted by name:
// libcurl 7.88 signs the query as it is sent, and S3 checks the signature
// against the sorted form.
[[nodiscard]] std::string s3_listing_url(const S3Settings& settings, const std::string& bucket,
                                         const std::string& prefix, const std::string& continuation_token);
// "s3://bucket/key" for messages.
[[nodiscard]] std::string s3_uri(const std::string& bucket, const std::string& key);

}  // namespace inferloop::detail
