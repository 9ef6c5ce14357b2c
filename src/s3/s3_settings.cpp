// s3_settings(): credentials, region, endpoint and TLS for S3 from the
// environment and the AWS shared files (rules in s3_settings.hpp), and the
// request URLs built from them.
#include "s3/s3_settings.hpp"

#include <curl/curl.h>

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "inferloop/error.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

namespace fs = std::filesystem;
using boost::property_tree::ptree;

// One INI file (credentials or config) as Boost reads it; `tree` is empty
// when the file does not exist.
struct IniFile {
  fs::path path;
  ptree tree;
  bool exists = false;
};

// "~/x" -> "$HOME/x", as boto3 expands the file variables.
fs::path expand_home(const std::string& path, const EnvironmentLookup& environment) {
  if (path == "~" || path.starts_with("~/")) {
    const std::string home = environment("HOME");
    if (!home.empty()) return fs::path(home) / path.substr(std::min<std::size_t>(path.size(), 2));
  }
  return path;
}

IniFile read_ini_file(const fs::path& path, const char* variable) {
  IniFile file;
  file.path = path;
  std::ifstream in(path);
  if (!in) return file;  // no such file: nothing configured there
  file.exists = true;
  try {
    boost::property_tree::ini_parser::read_ini(in, file.tree);
  } catch (const boost::property_tree::ini_parser_error& e) {
    throw Error(path.string() + ":" + std::to_string(e.line()) + ": " + e.message() +
                " (reading AWS settings for S3; the file is " + variable +
                "); fix the file, or point " + variable + " at another one");
  }
  return file;
}

// The section named exactly `name` (ptree's own lookups would split the name
// at '.', and profile names may hold dots).
const ptree* section(const IniFile& file, const std::string& name) {
  for (const auto& [key, child] : file.tree) {
    if (key == name) return &child;
  }
  return nullptr;
}

std::string value(const ptree* section, const std::string& key) {
  if (section == nullptr) return "";
  for (const auto& [name, child] : *section) {
    if (name == key) return child.data();
  }
  return "";
}

std::string where(const std::string& profile, const IniFile& file) {
  return "profile " + quote(profile) + " in " + file.path.string();
}

// Reads the access key pair (and session token) of `profile_section`, if it
// has one. Half a pair is an error.
bool take_credentials(const ptree* profile_section, const std::string& source, S3Settings& settings) {
  const std::string key_id = value(profile_section, "aws_access_key_id");
  const std::string secret = value(profile_section, "aws_secret_access_key");
  if (key_id.empty() && secret.empty()) return false;
  if (key_id.empty() || secret.empty()) {
    throw Error(source + " has " + (key_id.empty() ? "aws_secret_access_key" : "aws_access_key_id") +
                " but no " + (key_id.empty() ? "aws_access_key_id" : "aws_secret_access_key") +
                "; S3 requests are signed with both: add the missing one");
  }
  settings.access_key_id = key_id;
  settings.secret_access_key = secret;
  settings.session_token = value(profile_section, "aws_session_token");
  settings.credentials_source = source;
  return true;
}

void check_region(const S3Settings& settings) {
  // The region becomes part of libcurl's "aws:amz:REGION:s3" and of the
  // host name: nothing but letters, digits and '-' belongs there.
  const bool plain = std::all_of(settings.region.begin(), settings.region.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-';
  });
  if (!plain || settings.region.size() > 64) {
    throw Error(settings.region_source + "=" + quote(settings.region) +
                " is not an AWS region name (letters, digits and '-', e.g. us-east-1); fix it");
  }
}

std::string check_endpoint(const std::string& text, const std::string& variable) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> url(curl_url(), &curl_url_cleanup);
  if (url == nullptr) throw Error("curl_url failed (out of memory?)");
  const auto refuse = [&](const std::string& problem) {
    throw Error(variable + "=" + quote(text) + ": " + problem +
                "; set it to the S3-compatible store's URL, e.g. http://127.0.0.1:9000");
  };
  if (curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) refuse("not a URL");
  char* scheme = nullptr;
  curl_url_get(url.get(), CURLUPART_SCHEME, &scheme, 0);
  const std::string scheme_text = scheme != nullptr ? scheme : "";
  curl_free(scheme);
  if (scheme_text != "http" && scheme_text != "https") refuse("the scheme must be http or https");
  for (const CURLUPart part : {CURLUPART_USER, CURLUPART_PASSWORD}) {
    char* found = nullptr;
    const bool present = curl_url_get(url.get(), part, &found, 0) == CURLUE_OK;
    curl_free(found);
    if (present) refuse("credentials in the URL are not used (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  for (const CURLUPart part : {CURLUPART_QUERY, CURLUPART_FRAGMENT}) {
    char* found = nullptr;
    const bool present = curl_url_get(url.get(), part, &found, 0) == CURLUE_OK;
    curl_free(found);
    if (present) refuse("a query or fragment has no place in an endpoint");
  }
  std::string endpoint = text;
  while (endpoint.ends_with('/')) endpoint.pop_back();
  return endpoint;
}

std::string escape(const std::string& text) {
  char* escaped = curl_easy_escape(nullptr, text.c_str(), narrow<int>(text.size(), "S3 key length"));
  if (escaped == nullptr) throw Error("curl_easy_escape failed (out of memory?)");
  std::string result(escaped);
  curl_free(escaped);
  return result;
}

// Each '/'-separated segment escaped; the slashes kept.
std::string escape_key(const std::string& key) {
  std::string escaped;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = key.find('/', start);
    escaped += escape(key.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) return escaped;
    escaped += '/';
    start = slash + 1;
  }
}

// Where a bucket's requests go: path-style under a custom endpoint
// (endpoint/bucket), virtual-hosted on AWS (bucket.s3.REGION.amazonaws.com),
// except that a dotted bucket name is no valid TLS host label, so it goes
// path-style on AWS too, as boto3 does.
struct BucketUrl {
  std::string base;     // no trailing '/'
  bool virtual_hosted;  // the bucket is the host; the path starts at '/'
};

BucketUrl bucket_url(const S3Settings& settings, const std::string& bucket) {
  if (!settings.endpoint_url.empty()) return {settings.endpoint_url + "/" + escape(bucket), false};
  if (bucket.find('.') != std::string::npos) {
    return {"https://s3." + settings.region + ".amazonaws.com/" + escape(bucket), false};
  }
  return {"https://" + bucket + ".s3." + settings.region + ".amazonaws.com", true};
}

}  // namespace

std::vector<std::string> S3Settings::secrets() const {
  std::vector<std::string> values;
  for (const std::string* secret : {&secret_access_key, &session_token, &access_key_id}) {
    if (!secret->empty()) values.push_back(*secret);
  }
  return values;
}

S3Settings s3_settings(const EnvironmentLookup& environment) {
  S3Settings settings;

  // The profile: named explicitly, or "default".
  std::string profile = environment("AWS_PROFILE");
  std::string profile_variable = "AWS_PROFILE";
  if (profile.empty()) {
    profile = environment("AWS_DEFAULT_PROFILE");
    profile_variable = "AWS_DEFAULT_PROFILE";
  }
  const bool profile_named = !profile.empty();
  if (!profile_named) profile = "default";

  // The files are read only when a step needs them: a broken file that
  // nothing asks for must not break a process whose variables say it all.
  std::optional<IniFile> credentials_file;
  std::optional<IniFile> config_file;
  const auto credentials_ini = [&]() -> const IniFile& {
    if (!credentials_file) {
      const std::string named = environment("AWS_SHARED_CREDENTIALS_FILE");
      credentials_file = read_ini_file(expand_home(named.empty() ? "~/.aws/credentials" : named, environment),
                                       "AWS_SHARED_CREDENTIALS_FILE");
    }
    return *credentials_file;
  };
  const auto config_ini = [&]() -> const IniFile& {
    if (!config_file) {
      const std::string named = environment("AWS_CONFIG_FILE");
      config_file = read_ini_file(expand_home(named.empty() ? "~/.aws/config" : named, environment),
                                  "AWS_CONFIG_FILE");
    }
    return *config_file;
  };
  const auto config_section = [&]() -> const ptree* {
    const IniFile& config = config_ini();
    if (const ptree* found = section(config, "profile " + profile)) return found;
    return profile == "default" ? section(config, "default") : nullptr;
  };

  // Credentials.
  const std::string key_id = environment("AWS_ACCESS_KEY_ID");
  const std::string secret = environment("AWS_SECRET_ACCESS_KEY");
  if (!key_id.empty() || !secret.empty()) {
    if (key_id.empty() || secret.empty()) {
      throw Error(std::string(key_id.empty() ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
                  " is set but " + (key_id.empty() ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") +
                  " is not; S3 requests are signed with both: set the other one, or unset it to use "
                  "~/.aws/credentials");
    }
    settings.access_key_id = key_id;
    settings.secret_access_key = secret;
    settings.session_token = environment("AWS_SESSION_TOKEN");
    settings.credentials_source = "AWS_ACCESS_KEY_ID";
  } else {
    const IniFile& credentials = credentials_ini();
    const ptree* in_credentials = section(credentials, profile);
    const ptree* in_config = config_section();
    if (!take_credentials(in_credentials, where(profile, credentials), settings)) {
      take_credentials(in_config, where(profile, config_ini()), settings);
    }
    if (profile_named && in_credentials == nullptr && in_config == nullptr) {
      throw Error(profile_variable + "=" + quote(profile) + " names a profile that is in neither " +
                  credentials.path.string() + (credentials.exists ? "" : " (no such file)") + " nor " +
                  config_ini().path.string() + (config_ini().exists ? "" : " (no such file)") +
                  "; add it (aws configure --profile " + profile + ") or unset " + profile_variable);
    }
  }

  // Region.
  for (const char* variable : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    settings.region = environment(variable);
    settings.region_source = variable;
    if (!settings.region.empty()) break;
  }
  if (settings.region.empty()) {
    settings.region = value(config_section(), "region");
    settings.region_source = "region of " + where(profile, config_ini());
  }
  if (settings.region.empty()) {
    settings.region = "us-east-1";
    settings.region_source = "the default region";
  }
  check_region(settings);

  // Endpoint and TLS.
  for (const char* variable : {"MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}) {
    const std::string endpoint = environment(variable);
    if (endpoint.empty()) continue;
    settings.endpoint_url = check_endpoint(endpoint, variable);
    settings.endpoint_source = variable;
    break;
  }
  if (const std::string ignore_tls = environment("MLFLOW_S3_IGNORE_TLS"); !ignore_tls.empty()) {
    settings.ignore_tls = parse_boolean(ignore_tls, "MLFLOW_S3_IGNORE_TLS");
  }
  settings.ca_bundle = environment("AWS_CA_BUNDLE");
  if (settings.ignore_tls && !settings.ca_bundle.empty()) {
    throw Error("MLFLOW_S3_IGNORE_TLS is true and AWS_CA_BUNDLE is set (" + quote(settings.ca_bundle) +
                "): turning TLS verification off and verifying against a CA bundle contradict each "
                "other; unset one of them");
  }
  if (const std::string max_keys = environment("INFERLOOP_S3_MAX_KEYS"); !max_keys.empty()) {
    settings.max_keys = parse_integer<std::uint32_t>(max_keys, "INFERLOOP_S3_MAX_KEYS", 1, 1000);
  }
  return settings;
}

S3Settings s3_settings_from_environment() {
  return s3_settings([](const char* name) {
    const char* found = std::getenv(name);
    return found != nullptr ? std::string(found) : std::string();
  });
}

std::string s3_object_url(const S3Settings& settings, const std::string& bucket, const std::string& key) {
  return bucket_url(settings, bucket).base + "/" + escape_key(key);
}

std::string s3_listing_url(const S3Settings& settings, const std::string& bucket, const std::string& prefix,
                           const std::string& continuation_token) {
  // std::map: sorted by name (see the header).
  std::map<std::string, std::string> parameters{{"encoding-type", "url"}, {"list-type", "2"}, {"prefix", prefix}};
  if (!continuation_token.empty()) parameters["continuation-token"] = continuation_token;
  // 1000 is S3's default, and without the parameter messages stay readable
  // (Error scrubs the value of any query parameter whose name holds "key").
  if (settings.max_keys != 1000) parameters["max-keys"] = std::to_string(settings.max_keys);
  std::string query;
  for (const auto& [name, text] : parameters) {
    query += (query.empty() ? "" : "&") + name + "=" + escape(text);
  }
  const BucketUrl url = bucket_url(settings, bucket);
  return url.base + (url.virtual_hosted ? "/?" : "?") + query;
}

std::string s3_uri(const std::string& bucket, const std::string& key) { return "s3://" + bucket + "/" + key; }

}  // namespace inferloop::detail
