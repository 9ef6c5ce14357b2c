// The S3 client's rules without an S3 store: where credentials, region and
// endpoint come from (src/s3/s3_settings.hpp), the request URLs, the
// ListObjectsV2 and error-reply reader and the step from keys to a model
// folder (src/s3/s3_listing.hpp), and S3Client against a scripted loopback
// server: pagination, what a signed request carries, retries, and messages
// that name the S3 error and never a secret. Label: unit (fast, hermetic).
//
// The XML replies below were captured from moto 5 in server mode (the same
// files seed fuzz/corpus/s3_listing/).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "mlflow/rest.hpp"
#include "s3/s3_client.hpp"
#include "s3/s3_listing.hpp"
#include "s3/s3_settings.hpp"
#include "scripted_http_server.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;
using detail::S3Settings;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no inferloop::Error was thrown";
  return {};
}

// An environment made of a map, with HOME in a scratch folder of its own.
class S3SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::path(::testing::TempDir()) / ("inferloop-s3-unit-" + std::to_string(std::random_device{}()));
    fs::create_directories(home_ / ".aws");
    environment_["HOME"] = home_.string();
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(home_, ignored);
  }
  void write(const fs::path& file, const std::string& text) {
    std::ofstream(file) << text;
  }
  S3Settings settings() {
    return detail::s3_settings([this](const char* name) {
      const auto found = environment_.find(name);
      return found == environment_.end() ? std::string() : found->second;
    });
  }
  std::string settings_error() {
    return error_of([this] { (void)settings(); });
  }

  fs::path home_;
  std::map<std::string, std::string> environment_;
};

// --- credentials --------------------------------------------------------------

TEST_F(S3SettingsTest, NothingSetMeansUnsignedRequestsToAwsInUsEast1) {
  const S3Settings s = settings();
  EXPECT_EQ(s.access_key_id, "");
  EXPECT_EQ(s.credentials_source, "");
  EXPECT_EQ(s.region, "us-east-1");
  EXPECT_EQ(s.region_source, "the default region");
  EXPECT_EQ(s.endpoint_url, "");
  EXPECT_FALSE(s.ignore_tls);
  EXPECT_EQ(s.max_keys, 1000u);
  EXPECT_TRUE(s.secrets().empty());
}

TEST_F(S3SettingsTest, EnvironmentKeysWinOverTheCredentialsFile) {
  write(home_ / ".aws" / "credentials", "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n");
  environment_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  environment_["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  environment_["AWS_SESSION_TOKEN"] = "ENVTOKEN";
  const S3Settings s = settings();
  EXPECT_EQ(s.access_key_id, "ENVKEY");
  EXPECT_EQ(s.secret_access_key, "ENVSECRET");
  EXPECT_EQ(s.session_token, "ENVTOKEN");
  EXPECT_EQ(s.credentials_source, "AWS_ACCESS_KEY_ID");
  EXPECT_EQ(s.secrets(), (std::vector<std::string>{"ENVSECRET", "ENVTOKEN", "ENVKEY"}));
}

TEST_F(S3SettingsTest, HalfAKeyPairInTheEnvironmentIsRefused) {
  environment_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  EXPECT_THAT(settings_error(), HasSubstr("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));
  environment_.erase("AWS_ACCESS_KEY_ID");
  environment_["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  EXPECT_THAT(settings_error(), AllOf(HasSubstr("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
                                      Not(HasSubstr("ENVSECRET"))));
}

TEST_F(S3SettingsTest, DefaultProfileOfTheSharedCredentialsFile) {
  write(home_ / ".aws" / "credentials",
        "# a comment\n[other]\naws_access_key_id = OTHER\naws_secret_access_key = OTHERSECRET\n\n"
        "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = DEFSECRET\naws_session_token = DEFTOKEN\n");
  const S3Settings s = settings();
  EXPECT_EQ(s.access_key_id, "DEFKEY");
  EXPECT_EQ(s.secret_access_key, "DEFSECRET");
  EXPECT_EQ(s.session_token, "DEFTOKEN");
  EXPECT_EQ(s.credentials_source, "profile 'default' in " + (home_ / ".aws" / "credentials").string());
}

TEST_F(S3SettingsTest, AwsProfileAndAwsSharedCredentialsFileChooseTheProfileAndFile) {
  const fs::path file = home_ / "elsewhere.ini";
  write(file, "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = DEFSECRET\n"
              "[desk.eu]\naws_access_key_id = DESKKEY\naws_secret_access_key = DESKSECRET\n");
  environment_["AWS_SHARED_CREDENTIALS_FILE"] = file.string();
  environment_["AWS_PROFILE"] = "desk.eu";  // a dot: not a property-tree path
  const S3Settings s = settings();
  EXPECT_EQ(s.access_key_id, "DESKKEY");
  EXPECT_EQ(s.secret_access_key, "DESKSECRET");
  EXPECT_EQ(s.credentials_source, "profile 'desk.eu' in " + file.string());
}

TEST_F(S3SettingsTest, ConfigFileGivesTheRegionAndCredentialsOfAProfile) {
  write(home_ / ".aws" / "config",
        "[default]\nregion = eu-west-1\n[profile research]\nregion = ap-south-1\n"
        "aws_access_key_id = CFGKEY\naws_secret_access_key = CFGSECRET\n");
  S3Settings s = settings();
  EXPECT_EQ(s.region, "eu-west-1");
  EXPECT_EQ(s.region_source, "region of profile 'default' in " + (home_ / ".aws" / "config").string());
  EXPECT_EQ(s.access_key_id, "");

  environment_["AWS_PROFILE"] = "research";
  s = settings();
  EXPECT_EQ(s.region, "ap-south-1");
  EXPECT_EQ(s.access_key_id, "CFGKEY");
  EXPECT_EQ(s.credentials_source, "profile 'research' in " + (home_ / ".aws" / "config").string());

  environment_["AWS_DEFAULT_REGION"] = "us-west-2";
  EXPECT_EQ(settings().region, "us-west-2");
  environment_["AWS_REGION"] = "ca-central-1";  // AWS_REGION first, as boto3
  EXPECT_EQ(settings().region, "ca-central-1");
  EXPECT_EQ(settings().region_source, "AWS_REGION");
}

TEST_F(S3SettingsTest, AProfileAskedForByNameMustExist) {
  write(home_ / ".aws" / "credentials", "[default]\naws_access_key_id = K\naws_secret_access_key = S\n");
  environment_["AWS_PROFILE"] = "prod";
  EXPECT_THAT(settings_error(),
              AllOf(HasSubstr("AWS_PROFILE='prod' names a profile that is in neither " +
                              (home_ / ".aws" / "credentials").string()),
                    HasSubstr((home_ / ".aws" / "config").string() + " (no such file)"),
                    HasSubstr("aws configure --profile prod")));
}

TEST_F(S3SettingsTest, HalfAKeyPairInAProfileIsRefused) {
  write(home_ / ".aws" / "credentials", "[default]\naws_access_key_id = ONLYKEY\n");
  EXPECT_THAT(settings_error(), HasSubstr("profile 'default' in " + (home_ / ".aws" / "credentials").string() +
                                          " has aws_access_key_id but no aws_secret_access_key"));
}

TEST_F(S3SettingsTest, AnUnreadableCredentialsFileIsAnErrorWithItsLine) {
  write(home_ / ".aws" / "credentials", "[default]\naws_access_key_id = K\nthis line has no equals sign\n");
  EXPECT_THAT(settings_error(), AllOf(HasSubstr((home_ / ".aws" / "credentials").string() + ":3: "),
                                      HasSubstr("AWS_SHARED_CREDENTIALS_FILE")));
}

TEST_F(S3SettingsTest, FilesAreNotReadWhenTheEnvironmentSaysItAll) {
  write(home_ / ".aws" / "credentials", "garbage without a section or an equals sign\n");
  write(home_ / ".aws" / "config", "garbage too\n");
  environment_["AWS_ACCESS_KEY_ID"] = "K";
  environment_["AWS_SECRET_ACCESS_KEY"] = "S";
  environment_["AWS_REGION"] = "eu-central-1";
  EXPECT_EQ(settings().region, "eu-central-1");
}

TEST_F(S3SettingsTest, ARegionThatCannotBeOneIsRefused) {
  environment_["AWS_REGION"] = "us-east-1:evil";
  EXPECT_THAT(settings_error(), HasSubstr("AWS_REGION='us-east-1:evil' is not an AWS region name"));
}

// --- endpoint, TLS, page size --------------------------------------------------

TEST_F(S3SettingsTest, EndpointComesFromMlflowFirstThenAws) {
  environment_["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1";
  EXPECT_EQ(settings().endpoint_url, "http://127.0.0.1:1");
  EXPECT_EQ(settings().endpoint_source, "AWS_ENDPOINT_URL");
  environment_["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:2";
  EXPECT_EQ(settings().endpoint_url, "http://127.0.0.1:2");
  environment_["MLFLOW_S3_ENDPOINT_URL"] = "http://127.0.0.1:9000//";
  EXPECT_EQ(settings().endpoint_url, "http://127.0.0.1:9000");
  EXPECT_EQ(settings().endpoint_source, "MLFLOW_S3_ENDPOINT_URL");
}

TEST_F(S3SettingsTest, AnEndpointThatIsNoHttpUrlIsRefused) {
  for (const auto& [value, problem] : std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1:9000", "not a URL"},
           {"ftp://127.0.0.1:9000", "the scheme must be http or https"},
           {"http://user:pw-SECRET@127.0.0.1:9000", "credentials in the URL are not used"},
           {"http://127.0.0.1:9000/?x=1", "a query or fragment has no place"}}) {
    environment_["MLFLOW_S3_ENDPOINT_URL"] = value;
    const std::string message = settings_error();
    EXPECT_THAT(message, AllOf(HasSubstr("MLFLOW_S3_ENDPOINT_URL="), HasSubstr(problem))) << value;
    EXPECT_THAT(message, Not(HasSubstr("pw-SECRET"))) << message;
  }
}

TEST_F(S3SettingsTest, IgnoreTlsIsAFlagAndContradictsACaBundle) {
  environment_["MLFLOW_S3_IGNORE_TLS"] = "TRUE";
  EXPECT_TRUE(settings().ignore_tls);
  environment_["MLFLOW_S3_IGNORE_TLS"] = "yes";
  EXPECT_THAT(settings_error(), HasSubstr("MLFLOW_S3_IGNORE_TLS: expected true or false"));
  environment_["MLFLOW_S3_IGNORE_TLS"] = "true";
  environment_["AWS_CA_BUNDLE"] = "/etc/ssl/ca.pem";
  EXPECT_THAT(settings_error(), HasSubstr("MLFLOW_S3_IGNORE_TLS is true and AWS_CA_BUNDLE is set"));
  environment_["MLFLOW_S3_IGNORE_TLS"] = "0";
  EXPECT_EQ(settings().ca_bundle, "/etc/ssl/ca.pem");
}

TEST_F(S3SettingsTest, PageSizeIsCheckedLikeEveryNumberFromOutside) {
  environment_["INFERLOOP_S3_MAX_KEYS"] = "2";
  EXPECT_EQ(settings().max_keys, 2u);
  for (const char* bad : {"0", "1001", "-1", "ten"}) {
    environment_["INFERLOOP_S3_MAX_KEYS"] = bad;
    EXPECT_THAT(settings_error(), HasSubstr("INFERLOOP_S3_MAX_KEYS: expected an integer in [1, 1000]")) << bad;
  }
}

// --- URLs ----------------------------------------------------------------------

TEST(S3Urls, CustomEndpointsArePathStyleWithEachKeySegmentEncodedOnce) {
  S3Settings settings;
  settings.endpoint_url = "http://127.0.0.1:9000";
  EXPECT_EQ(detail::s3_object_url(settings, "models", "exp/1/sub dir/x+y=z.json"),
            "http://127.0.0.1:9000/models/exp/1/sub%20dir/x%2By%3Dz.json");
}

TEST(S3Urls, AwsIsVirtualHostedExceptForDottedBuckets) {
  S3Settings settings;
  settings.region = "eu-west-1";
  EXPECT_EQ(detail::s3_object_url(settings, "models", "a/MLmodel"),
            "https://models.s3.eu-west-1.amazonaws.com/a/MLmodel");
  EXPECT_EQ(detail::s3_object_url(settings, "my.models", "a/MLmodel"),
            "https://s3.eu-west-1.amazonaws.com/my.models/a/MLmodel");
  EXPECT_EQ(detail::s3_listing_url(settings, "models", "a/", ""),
            "https://models.s3.eu-west-1.amazonaws.com/?encoding-type=url&list-type=2&prefix=a%2F");
}

TEST(S3Urls, ListingQueryIsSortedByNameWithTheTokenEscaped) {
  S3Settings settings;
  settings.endpoint_url = "http://127.0.0.1:9000";
  settings.max_keys = 2;
  EXPECT_EQ(detail::s3_listing_url(settings, "models", "exp/1/", "tok/1+x="),
            "http://127.0.0.1:9000/models?continuation-token=tok%2F1%2Bx%3D&encoding-type=url&list-type=2"
            "&max-keys=2&prefix=exp%2F1%2F");
}

// --- ListObjectsV2 pages --------------------------------------------------------

constexpr const char* kTruncatedPage =
    R"(<?xml version="1.0" encoding="utf-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated><Contents><Key>a/b/MLmodel</Key><LastModified>2026-11-28T18:41:45.000Z</LastModified><ETag>"5d41402abc4b2a76b9719d911017c592"</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents><Name>bkt</Name><Prefix>a/b/</Prefix><MaxKeys>1</MaxKeys><EncodingType>url</EncodingType><KeyCount>1</KeyCount><NextContinuationToken>b19a81a0a9ffa85c9e9e5bd6d92abeaa</NextContinuationToken></ListBucketResult>)";
constexpr const char* kLastPage =
    R"(<?xml version="1.0" encoding="utf-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated><Contents><Key>a/b/sub%20dir/x%2By%3Dz.json</Key><LastModified>2026-11-28T18:41:45.000Z</LastModified><ETag>"827ccb0eea8a706c4c34a16891f84e7b"</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents><Name>bkt</Name><Prefix>a/b/</Prefix><MaxKeys>1</MaxKeys><EncodingType>url</EncodingType><KeyCount>1</KeyCount></ListBucketResult>)";
constexpr const char* kEmptyPage =
    R"(<?xml version="1.0" encoding="utf-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated><Name>bkt</Name><Prefix>nothing/</Prefix><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><KeyCount>0</KeyCount></ListBucketResult>)";

std::string page_error(const std::string& xml) {
  return error_of([&] { (void)detail::parse_list_objects_page(xml, "listing of s3://bkt/a/"); });
}

// A page with one object, its Key and Size as given.
std::string page_with(const std::string& key, const std::string& size, const std::string& extra = "") {
  return "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>" + key + "</Key><Size>" + size +
         "</Size></Contents>" + extra + "</ListBucketResult>";
}

TEST(S3ListPage, ReadsMotosTruncatedPageAndItsToken) {
  const detail::S3ListPage page = detail::parse_list_objects_page(kTruncatedPage, "page 1");
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, "a/b/MLmodel");
  EXPECT_EQ(page.objects[0].size, 5u);
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.continuation_token, "b19a81a0a9ffa85c9e9e5bd6d92abeaa");
}

TEST(S3ListPage, UrlEncodedKeysAreDecodedWithPlusAsSpace) {
  detail::S3ListPage page = detail::parse_list_objects_page(kLastPage, "page 2");
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, "a/b/sub dir/x+y=z.json");
  EXPECT_FALSE(page.truncated);
  // AWS itself writes a space as '+' in EncodingType url.
  page = detail::parse_list_objects_page(
      page_with("a/sub+dir/%C3%A9t%C3%A9.json", "7", "<EncodingType>url</EncodingType>"), "page");
  EXPECT_EQ(page.objects.at(0).key, "a/sub dir/\xC3\xA9t\xC3\xA9.json");
}

TEST(S3ListPage, WithoutEncodingTypeKeysAreTakenAsXmlTextWithEntitiesResolved) {
  const detail::S3ListPage page = detail::parse_list_objects_page(page_with("a/x&amp;y%20+.json", "1"), "page");
  EXPECT_EQ(page.objects.at(0).key, "a/x&y%20+.json");
}

TEST(S3ListPage, AnEmptyPrefixIsAnEmptyPage) {
  const detail::S3ListPage page = detail::parse_list_objects_page(kEmptyPage, "page");
  EXPECT_TRUE(page.objects.empty());
  EXPECT_FALSE(page.truncated);
}

TEST(S3ListPage, SizesAreNonNegativeIntegersInRange) {
  EXPECT_THAT(page_error(page_with("a/m", "-1")),
              HasSubstr("listing of s3://bkt/a/: Size of key 'a/m': expected an integer in [0, "));
  EXPECT_THAT(page_error(page_with("a/m", "12kB")), HasSubstr("found '12kB'"));
  EXPECT_THAT(page_error(page_with("a/m", "99999999999999999999999")), HasSubstr("Size of key 'a/m'"));
  EXPECT_THAT(page_error(page_with("a/m", "")), HasSubstr("Size of key 'a/m'"));
}

TEST(S3ListPage, KeyCountMustMatchTheObjectsListed) {
  EXPECT_THAT(page_error(page_with("a/m", "1", "<KeyCount>2</KeyCount>")),
              HasSubstr("KeyCount says 2 keys but the page lists 1; the answer is damaged or cut short"));
  EXPECT_THAT(page_error(page_with("a/m", "1", "<KeyCount>one</KeyCount>")),
              HasSubstr("KeyCount: expected an integer"));
}

TEST(S3ListPage, MalformedPagesSayWhatIsWrong) {
  EXPECT_THAT(page_error("not xml at all"), AllOf(HasSubstr("listing of s3://bkt/a/: the answer is not XML"),
                                                  HasSubstr("MLFLOW_S3_ENDPOINT_URL")));
  EXPECT_THAT(page_error("<ListBucketResult><Contents><Key>a</Key>"), HasSubstr("the answer is not XML"));
  EXPECT_THAT(page_error("<html><body>Welcome</body></html>"),
              HasSubstr("its root element is 'html', not ListBucketResult"));
  EXPECT_THAT(page_error("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>"),
              HasSubstr("object 1 has no Key"));
  EXPECT_THAT(page_error("<ListBucketResult><Contents><Key>a/m</Key></Contents></ListBucketResult>"),
              HasSubstr("object 1 has no Size"));
  EXPECT_THAT(page_error("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"),
              HasSubstr("IsTruncated is true but there is no NextContinuationToken"));
  EXPECT_THAT(page_error("<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>"),
              HasSubstr("IsTruncated: expected true or false"));
  EXPECT_THAT(page_error(page_with("a/m", "1", "<EncodingType>base64</EncodingType>")),
              HasSubstr("EncodingType 'base64' is not 'url'"));
}

// --- error replies ----------------------------------------------------------------

TEST(S3ErrorReply, CodeAndMessageOnlyNeverTheEchoedSigningDetails) {
  // AWS's SignatureDoesNotMatch echoes the access key id and what was signed.
  const std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
      "signature we calculated does not match the signature you provided. Check your key and signing "
      "method.</Message><AWSAccessKeyId>AKIAEXAMPLEKEYID</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n"
      "20250101T000000Z</StringToSign><SignatureProvided>abc123</SignatureProvided></Error>";
  EXPECT_EQ(detail::describe_s3_error_body(body),
            "SignatureDoesNotMatch: 'The request signature we calculated does not match the signature you "
            "provided. Check your key and signing method.'");
  EXPECT_EQ(detail::s3_error_code(body), "SignatureDoesNotMatch");
}

TEST(S3ErrorReply, MotosNoSuchKeyAndNoSuchBucket) {
  EXPECT_EQ(detail::describe_s3_error_body(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified "
                "key does not exist.</Message><Key>a/b/missing</Key><RequestId>IOXH5</RequestId></Error>"),
            "NoSuchKey: 'The specified key does not exist.'");
  EXPECT_EQ(detail::s3_error_code("<Error><Code>NoSuchBucket</Code></Error>"), "NoSuchBucket");
  EXPECT_EQ(detail::describe_s3_error_body("<Error><Code>NoSuchBucket</Code></Error>"), "NoSuchBucket");
}

TEST(S3ErrorReply, AnythingElseIsDescribedAsABody) {
  EXPECT_EQ(detail::describe_s3_error_body(""), "");
  EXPECT_EQ(detail::describe_s3_error_body("<html>Bad gateway</html>"), "body: '<html>Bad gateway</html>'");
  EXPECT_EQ(detail::s3_error_code("<Error><Message>no code</Message></Error>"), "");
  // A Code that is no token is quoted, not trusted.
  EXPECT_EQ(detail::describe_s3_error_body("<Error><Code>a b\nc</Code></Error>"), "'a b\\nc'");
}

// --- keys -> model folder ---------------------------------------------------------

std::vector<detail::S3FolderFile> folder_files(const std::vector<detail::S3Object>& objects) {
  return detail::s3_folder_files(objects, "exp/m/artifacts/", "s3://bkt/exp/m/artifacts/", "s3://bkt/exp/m/artifacts",
                                 3);
}

std::string folder_error(const std::vector<detail::S3Object>& objects) {
  return error_of([&] { (void)folder_files(objects); });
}

TEST(S3FolderFiles, KeysBecomeSortedRelativePathsAndFolderMarkersAreSkipped) {
  const auto files = folder_files({{"exp/m/artifacts/model.ubj", 40000},
                                   {"exp/m/artifacts/", 0},
                                   {"exp/m/artifacts/sub/", 0},
                                   {"exp/m/artifacts/MLmodel", 500},
                                   {"exp/m/artifacts/sub/conda.yaml", 9}});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path, "MLmodel");
  EXPECT_EQ(files[0].size, 500u);
  EXPECT_EQ(files[1].path, "model.ubj");
  EXPECT_EQ(files[2].path, "sub/conda.yaml");
}

TEST(S3FolderFiles, KeysThatWouldLeaveTheFolderAreRefused) {
  for (const auto& [key, problem] : std::vector<std::pair<std::string, std::string>>{
           {"exp/m/artifacts/../../evil", "is a relative folder reference"},
           {"exp/m/artifacts/sub/../../x", "is a relative folder reference"},
           {"exp/m/artifacts//etc/passwd", "is empty"},
           {"exp/m/artifacts/a\\..\\b", "holds a path separator"},
           {std::string("exp/m/artifacts/a\0b", 19), "holds a NUL byte"},
           {"exp/m/artifacts/file/", "is empty"}}) {
    const std::string message = folder_error({{key, 4}});
    EXPECT_THAT(message, AllOf(HasSubstr("path-escaping listing"), HasSubstr(problem))) << message;
  }
  EXPECT_THAT(folder_error({{"exp/m/other/MLmodel", 4}}),
              HasSubstr("names the key 'exp/m/other/MLmodel', which is not under the prefix 'exp/m/artifacts/'"));
}

TEST(S3FolderFiles, TooDeepAndFileFolderClashesAreRefused) {
  EXPECT_THAT(folder_error({{"exp/m/artifacts/a/b/c/d/file", 1}}), HasSubstr("is more than 3 folders deep"));
  EXPECT_THAT(folder_error({{"exp/m/artifacts/a", 1}, {"exp/m/artifacts/a.json", 1}, {"exp/m/artifacts/a/b", 1}}),
              HasSubstr("has both a file 'a' and keys below 'a/'"));
}

// --- S3Client against a scripted server -----------------------------------------------

class S3ClientTest : public ::testing::Test {
 protected:
  MlflowOptions options() {
    MlflowOptions options;
    options.cache_dir = fs::path(::testing::TempDir());
    options.max_retries = 2;
    options.backoff_factor = 0.01;
    options.backoff_jitter = 0;
    options.connect_timeout = std::chrono::milliseconds(500);
    options.request_timeout = std::chrono::seconds(2);
    options.log = [this](const std::string& line) { log_.push_back(line); };
    // MLflow's credentials: never for the S3 store.
    options.token = "mlflow-TOKEN-0001";
    return options.from_environment();
  }
  // What resolving models:/fraud/1 says when the tracking server answers
  // get-download-uri with `artifact_uri` (as MLflow does with artifact
  // serving off); `requests` gets how many requests it answered.
  std::string resolve_error_for(const std::string& artifact_uri, std::size_t& requests) {
    test::ScriptedHttpServer server({test::ScriptedHttpServer::response(
        "200 OK", "{\"artifact_uri\": \"" + artifact_uri + "\"}", "Content-Type: application/json\r\n")});
    MlflowOptions options = this->options();
    options.tracking_uri = server.url();
    MlflowClient client(options);
    const std::string message = error_of([&] { (void)client.resolve("models:/fraud/1"); });
    requests = server.requests().size();
    return message;
  }
  S3Settings signed_settings(const std::string& endpoint) const {
    S3Settings settings;
    settings.endpoint_url = endpoint;
    settings.region = "eu-west-1";
    settings.region_source = "AWS_REGION";
    settings.access_key_id = "AKIA-KEYID-4711";
    settings.secret_access_key = "secret-SECRET-0815";
    settings.session_token = "session-TOKEN-1234";
    settings.credentials_source = "AWS_ACCESS_KEY_ID";
    settings.max_keys = 1;
    return settings;
  }
  void expect_no_secret(const std::string& text) {
    for (const char* secret : {"AKIA-KEYID-4711", "secret-SECRET-0815", "session-TOKEN-1234", "mlflow-TOKEN-0001"}) {
      EXPECT_THAT(text, Not(HasSubstr(secret)));
    }
  }

  std::vector<std::string> log_;
  std::vector<std::string> trace_;
  const std::string model_uri_ = "s3://bkt/a/b";
};

std::string xml_ok(const std::string& body) {
  return test::ScriptedHttpServer::response("200 OK", body, "Content-Type: application/xml\r\n");
}

TEST_F(S3ClientTest, FollowsContinuationTokensAndSignsEveryRequest) {
  test::ScriptedHttpServer server({xml_ok(kTruncatedPage), xml_ok(kLastPage)});
  ASSERT_TRUE(server.listening());
  detail::S3Client client(options(), signed_settings(server.url()));
  const detail::Call call{model_uri_, "check the prefix", &trace_};
  const std::vector<detail::S3Object> objects = client.list("bkt", "a/b/", call);
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].key, "a/b/MLmodel");
  EXPECT_EQ(objects[1].key, "a/b/sub dir/x+y=z.json");

  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_THAT(requests[0], HasSubstr("GET /bkt?encoding-type=url&list-type=2&max-keys=1&prefix=a%2Fb%2F HTTP/1.1"));
  EXPECT_THAT(requests[1], HasSubstr("GET /bkt?continuation-token=b19a81a0a9ffa85c9e9e5bd6d92abeaa&encoding-type=url"
                                     "&list-type=2&max-keys=1&prefix=a%2Fb%2F HTTP/1.1"));
  for (const std::string& request : requests) {
    // libcurl signs what it is handed: the payload hash and the session
    // token must be among the signed headers.
    EXPECT_THAT(request, HasSubstr("Authorization: AWS4-HMAC-SHA256 Credential=AKIA-KEYID-4711/"));
    EXPECT_THAT(request, HasSubstr("/eu-west-1/s3/aws4_request"));
    EXPECT_THAT(request, HasSubstr("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"));
    EXPECT_THAT(request, HasSubstr("x-amz-content-sha256: "
                                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    EXPECT_THAT(request, HasSubstr("x-amz-security-token: session-TOKEN-1234"));
    EXPECT_THAT(request, Not(HasSubstr("mlflow-TOKEN-0001")));
    EXPECT_THAT(request, Not(HasSubstr("Bearer")));
  }
  for (const std::string& line : trace_) expect_no_secret(line);
  for (const std::string& line : log_) expect_no_secret(line);
}

TEST_F(S3ClientTest, WithoutCredentialsRequestsAreUnsigned) {
  test::ScriptedHttpServer server({xml_ok(kEmptyPage)});
  S3Settings settings;
  settings.endpoint_url = server.url();
  detail::S3Client client(options(), settings);
  const detail::Call call{model_uri_, "", &trace_};
  EXPECT_TRUE(client.list("bkt", "nothing/", call).empty());
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0], AllOf(Not(HasSubstr("Authorization")), Not(HasSubstr("x-amz-"))));
}

// (moto answers an unsigned bucket request with a 500 once its auth is on,
// so the integration tests cannot show this answer; S3 answers 403.)
TEST_F(S3ClientTest, AnUnsignedRequestRefusedSaysNoCredentialsWereFound) {
  test::ScriptedHttpServer server({test::ScriptedHttpServer::response(
      "403 Forbidden", "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")});
  S3Settings settings;
  settings.endpoint_url = server.url();
  detail::S3Client client(options(), settings);
  const detail::Call call{model_uri_, "", &trace_};
  EXPECT_THAT(error_of([&] { (void)client.list("bkt", "a/b/", call); }),
              AllOf(HasSubstr("HTTP 403 AccessDenied: 'Access Denied' (1 attempt)"),
                    HasSubstr("no AWS credentials were found (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a "
                              "profile in ~/.aws/credentials), so the request went unsigned: set them")));
}

TEST_F(S3ClientTest, ATokenSentTwiceWouldNeverEndAndIsRefused) {
  test::ScriptedHttpServer server({xml_ok(kTruncatedPage)});  // the same page, again and again
  detail::S3Client client(options(), signed_settings(server.url()));
  const detail::Call call{model_uri_, "", &trace_};
  EXPECT_THAT(error_of([&] { (void)client.list("bkt", "a/b/", call); }),
              AllOf(HasSubstr("the listing of s3://bkt/a/b/ (page 2)"),
                    HasSubstr("a continuation token it had sent before")));
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(S3ClientTest, AnErrorNamesTheStatusTheS3CodeAndTheVariablesButNoSecret) {
  const std::string body =
      "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match."
      "</Message><AWSAccessKeyId>AKIA-KEYID-4711</AWSAccessKeyId></Error>";
  test::ScriptedHttpServer server({test::ScriptedHttpServer::response("403 Forbidden", body)});
  detail::S3Client client(options(), signed_settings(server.url()));
  const detail::Call call{model_uri_, "", &trace_};
  const std::string message = error_of([&] { (void)client.list("bkt", "a/b/", call); });
  EXPECT_THAT(message, AllOf(HasSubstr("model_uri 's3://bkt/a/b': GET " + server.url() + "/bkt?"),
                             HasSubstr("failed: HTTP 403 SignatureDoesNotMatch: 'The request signature we "
                                       "calculated does not match.' (1 attempt)"),
                             HasSubstr("check the AWS credentials (taken from AWS_ACCESS_KEY_ID)"),
                             HasSubstr("AWS_SECRET_ACCESS_KEY"), HasSubstr("eu-west-1, from AWS_REGION")));
  expect_no_secret(message);
  EXPECT_EQ(server.requests().size(), 1u) << "a 403 is not retried";
}

TEST_F(S3ClientTest, AnExpiredTokenAnswered400StillNamesTheCredentialVariables) {
  test::ScriptedHttpServer server({test::ScriptedHttpServer::response(
      "400 Bad Request",
      "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>")});
  detail::S3Client client(options(), signed_settings(server.url()));
  const detail::Call call{model_uri_, "check the prefix", &trace_};
  const std::string message = error_of([&] { (void)client.list("bkt", "a/b/", call); });
  EXPECT_THAT(message, AllOf(HasSubstr("HTTP 400 ExpiredToken: 'The provided token has expired.' (1 attempt)"),
                             HasSubstr("AWS_SESSION_TOKEN for temporary ones"), Not(HasSubstr("check the prefix"))));
  expect_no_secret(message);
}

TEST_F(S3ClientTest, SlowDownIsRetriedLikeMlflowsFiveHundreds) {
  test::ScriptedHttpServer server(
      {test::ScriptedHttpServer::response("503 Slow Down", "<Error><Code>SlowDown</Code></Error>"),
       xml_ok(kEmptyPage)});
  detail::S3Client client(options(), signed_settings(server.url()));
  const detail::Call call{model_uri_, "", &trace_};
  EXPECT_TRUE(client.list("bkt", "nothing/", call).empty());
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_THAT(trace_.at(0), HasSubstr("-> HTTP 503 SlowDown"));
}

TEST_F(S3ClientTest, NothingListeningIsUnreachableWithTheEndpointVariableInTheHint) {
  S3Settings settings = signed_settings("http://127.0.0.1:1");
  settings.endpoint_source = "MLFLOW_S3_ENDPOINT_URL";
  detail::S3Client client(options(), settings);
  const detail::Call call{model_uri_, "", &trace_};
  try {
    (void)client.list("bkt", "a/", call);
    ADD_FAILURE() << "no error";
  } catch (const detail::RestError& e) {
    EXPECT_TRUE(e.unreachable());
    EXPECT_THAT(e.what(), AllOf(HasSubstr("no answer"), HasSubstr("(3 attempts, the last retry included)"),
                                HasSubstr("is the S3 store at http://127.0.0.1:1 (MLFLOW_S3_ENDPOINT_URL) running")));
  }
}

// --- artifact stores other than S3 ------------------------------------------------------

TEST_F(S3ClientTest, ATrackingServerAnsweringGcsOrAzureArtifactsIsRefusedSayingWhatIsRead) {
  for (const auto& [artifact_uri, store] : std::vector<std::pair<std::string, std::string>>{
           {"gs://models/1/m-1/artifacts", "Google Cloud Storage (gs://)"},
           {"abfss://models@account.dfs.core.windows.net/1/m-1/artifacts", "Azure Blob Storage (abfss://)"}}) {
    std::size_t requests = 0;
    const std::string message = resolve_error_for(artifact_uri, requests);
    EXPECT_THAT(message, AllOf(HasSubstr("model_uri 'models:/fraud/1' resolved to artifact_uri '"),
                               HasSubstr("which inferloop cannot download: " + store + " is not a store inferloop reads"),
                               HasSubstr("S3 and S3-compatible stores (s3://)")));
    EXPECT_EQ(requests, 1u);
  }
}

TEST_F(S3ClientTest, AnArtifactUriInferloopCannotParseIsRefusedNamingTheModelAndWhy) {
  for (const auto& [artifact_uri, why] : std::vector<std::pair<std::string, std::string>>{
           {"s3://Bad_Bucket/1/m-1/artifacts", "is not an S3 bucket name"},
           {"mlflow-artifacts:", "mlflow-artifacts: needs an artifact path"}}) {
    std::size_t requests = 0;
    const std::string message = resolve_error_for(artifact_uri, requests);
    EXPECT_THAT(message, AllOf(HasSubstr("model_uri 'models:/fraud/1' resolved to artifact_uri '" +
                                         artifact_uri + "', which inferloop cannot read ("),
                               HasSubstr(why)));
    EXPECT_EQ(requests, 1u);
  }
}

// --- s3:// model URIs ------------------------------------------------------------------

TEST(S3ModelUri, BucketAndKeyAreTakenLiterally) {
  ModelUri uri = parse_model_uri("s3://my-models/exp/1/models/m-abc/artifacts/");
  EXPECT_EQ(uri.kind, ModelUri::Kind::kS3);
  EXPECT_EQ(uri.host, "my-models");
  EXPECT_EQ(uri.path, "exp/1/models/m-abc/artifacts");
  EXPECT_FALSE(uri.moving());
  EXPECT_FALSE(uri.needs_tracking_server());
  EXPECT_EQ(parse_model_uri("S3://bkt.eu/with%20percent/model.ubj").path, "with%20percent/model.ubj");
}

}  // namespace
}  // namespace inferloop
