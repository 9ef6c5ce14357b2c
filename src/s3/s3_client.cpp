// S3Client (s3_client.hpp): the S3 Service of a RestClient (signing,
// headers, TLS, error bodies, hints) and paginated listing.
#include "s3/s3_client.hpp"

#include <curl/curl.h>

#include <set>

#include "inferloop/error.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

// SHA-256 of the empty payload: every request here is a GET without a body.
// S3 wants the payload hash in x-amz-content-sha256 and, since libcurl 7.88
// only signs the headers it is handed, it must be handed this one.
constexpr const char* kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// A listing page of 1000 keys is ~300 KB.
constexpr std::uint64_t kMaxPageBytes = std::uint64_t{16} << 20;

std::string where_from(const S3Settings& settings) {
  return settings.endpoint_url.empty() ? "AWS S3 in " + settings.region + " (" + settings.region_source + ")"
                                       : settings.endpoint_url + " (" + settings.endpoint_source + ")";
}

Service s3_service(const S3Settings& settings) {
  Service service;
  service.describe_error = describe_s3_error_body;
  service.error_code = s3_error_code;
  service.tls_hint = "check AWS_CA_BUNDLE (the CA bundle of " + where_from(settings) +
                     "), or set MLFLOW_S3_IGNORE_TLS=true for a test store";
  service.no_answer_hint = settings.endpoint_url.empty()
                               ? "check the network path to AWS S3, and AWS_REGION"
                               : "check MLFLOW_S3_ENDPOINT_URL (now " + where_from(settings) + ")";
  service.too_large_hint = "is " + where_from(settings) + " an S3 endpoint?";
  service.unreachable_hint = "is the S3 store at " + where_from(settings) +
                             " running and reachable from here? Set MLFLOW_S3_ENDPOINT_URL for an "
                             "S3-compatible store";
  if (settings.access_key_id.empty()) {
    service.auth_hint = "no AWS credentials were found (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a "
                        "profile in ~/.aws/credentials), so the request went unsigned: set them";
  } else {
    service.auth_hint = "check the AWS credentials (taken from " + settings.credentials_source +
                        "): AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for "
                        "temporary ones) or the profile in ~/.aws/credentials (AWS_PROFILE), that they may "
                        "read the bucket, and the region (" + settings.region + ", from " +
                        settings.region_source + ")";
  }
  // S3's codes for credentials it cannot accept, some answered with 400.
  service.auth_error_codes = {"InvalidToken",  "ExpiredToken",          "TokenRefreshRequired",
                              "InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed"};
  service.not_found_hint = "check the bucket and the key";
  if (!settings.access_key_id.empty()) {
    service.headers.push_back(std::string("x-amz-content-sha256: ") + kEmptyPayloadSha256);
    if (!settings.session_token.empty()) {
      service.headers.push_back("x-amz-security-token: " + settings.session_token);
    }
  }
  service.secrets = settings.secrets();
  // Copied into the closure: the Service outlives this function.
  service.configure = [settings](void* handle) {
    CURL* curl = static_cast<CURL*>(handle);
    if (!settings.access_key_id.empty()) {
      const std::string provider = "aws:amz:" + settings.region + ":s3";
      curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, provider.c_str());
      curl_easy_setopt(curl, CURLOPT_USERNAME, settings.access_key_id.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, settings.secret_access_key.c_str());
    }
    if (settings.ignore_tls) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!settings.ca_bundle.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings.ca_bundle.c_str());
  };
  return service;
}

// MLflow's credentials and TLS settings are the tracking server's: an S3
// store must never see them.
MlflowOptions without_mlflow_credentials(MlflowOptions options) {
  options.token.clear();
  options.username.clear();
  options.password.clear();
  options.insecure_tls = 0;
  options.server_cert_path.clear();
  options.client_cert_path.clear();
  return options;
}

}  // namespace

S3Client::S3Client(const MlflowOptions& options, S3Settings settings)
    : settings_(std::move(settings)),
      rest_(without_mlflow_credentials(options), s3_service(settings_)) {}

std::vector<S3Object> S3Client::list(const std::string& bucket, const std::string& prefix, const Call& call) {
  std::vector<S3Object> objects;
  std::set<std::string> tokens_seen;
  std::string token;
  for (int page = 1;; ++page) {
    const std::string body = rest_.get_text(s3_listing_url(settings_, bucket, prefix, token), kMaxPageBytes, call);
    const std::string where = "model_uri " + quote(call.model_uri) + ": the listing of " + s3_uri(bucket, prefix) +
                              " (page " + std::to_string(page) + ")";
    S3ListPage parsed = parse_list_objects_page(body, where);
    for (S3Object& object : parsed.objects) objects.push_back(std::move(object));
    if (objects.size() > kMaxObjects) {
      throw Error(where + ": more than " + std::to_string(kMaxObjects) +
                  " objects below the prefix; a model folder has a handful. Check the URI");
    }
    if (!parsed.truncated) return objects;
    if (!tokens_seen.insert(parsed.continuation_token).second) {
      throw Error(where + ": the store sent a continuation token it had sent before, so the listing would never "
                  "end; check the S3 store");
    }
    token = parsed.continuation_token;
  }
}

std::uint64_t S3Client::download(const std::string& bucket, const std::string& key,
                                 const std::filesystem::path& file, std::uint64_t max_bytes, const Call& call) {
  return rest_.download(s3_object_url(settings_, bucket, key), file, max_bytes, call);
}

std::string S3Client::ls_command(const std::string& bucket, const std::string& prefix) const {
  return "aws s3 ls " + s3_uri(bucket, prefix) +
         (settings_.endpoint_url.empty() ? "" : " --endpoint-url " + settings_.endpoint_url);
}

}  // namespace inferloop::detail
