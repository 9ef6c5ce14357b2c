// Tests for `inference_config_path:`, an application file naming the file that
// holds its config: paths relative to the naming file (not the working
// directory) and absolute, the issues of the named file carrying that file's
// name, line and column, and every refusal (missing file, both keys, a value
// that is no path, cycles, chains too long) with the exact message.
//
// Each test writes its files into a fresh folder under testing::TempDir().
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "inferloop/config.hpp"
#include "inferloop/error.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class ConfigReference : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path(::testing::TempDir()) / ("config_reference_" + std::string(info->name()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  // Writes `text` to root/relative (creating folders) and returns its path.
  fs::path write(const std::string& relative, std::string_view text) const {
    const fs::path file = root_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file;
  }

  static std::vector<ConfigIssue> issues_of(const fs::path& file) { return check_config_file(file); }

  fs::path root_;
};

// Restores the working directory when it goes out of scope.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const fs::path& folder) : saved_(fs::current_path()) { fs::current_path(folder); }
  ~WorkingDirectory() { fs::current_path(saved_); }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;

 private:
  fs::path saved_;
};

constexpr std::string_view kInference = "model_uri: models/m.json\nnum_replicas: 3\n";

TEST_F(ConfigReference, RelativePathIsReadAgainstTheNamingFilesFolderNotTheWorkingDirectory) {
  write("shared/inference.yaml", kInference);
  const fs::path app = write("app/app.yaml",
                             "strategy: {symbols: [EURUSD]}\n"
                             "inference_config_path: ../shared/inference.yaml\n");
  // From a working directory where "../shared/inference.yaml" names nothing.
  const fs::path elsewhere = root_ / "elsewhere" / "deeper";
  fs::create_directories(elsewhere);
  WorkingDirectory cwd(elsewhere);
  const InferenceConfig config = load_config(app);
  EXPECT_EQ(config.model_uri, "models/m.json");
  EXPECT_EQ(config.num_replicas, 3);
  EXPECT_TRUE(issues_of(app).empty());
}

TEST_F(ConfigReference, RelativePathOfARelativelyNamedFileKeepsItsFolder) {
  write("conf/inference.yaml", kInference);
  write("conf/app.yaml", "inference_config_path: inference.yaml\n");
  WorkingDirectory cwd(root_);
  EXPECT_EQ(load_config("conf/app.yaml").num_replicas, 3);
}

TEST_F(ConfigReference, AbsolutePathIsReadAsItIs) {
  const fs::path inference = write("somewhere/else/inference.yaml", kInference);
  ASSERT_TRUE(inference.is_absolute()) << "testing::TempDir() is relative: " << inference;
  const fs::path app = write("app.yaml", "inference_config_path: " + inference.string() + "\n");
  EXPECT_EQ(load_config(app).num_replicas, 3);
}

TEST_F(ConfigReference, TheNamedFileMayItselfBeAnApplicationFile) {
  write("other_app.yaml", "logging: {level: info}\ninference_config:\n  model_uri: x.json\n  num_replicas: 2\n");
  const fs::path app = write("app.yaml", "inference_config_path: other_app.yaml\n");
  const InferenceConfig config = load_config(app);
  EXPECT_EQ(config.model_uri, "x.json");
  EXPECT_EQ(config.num_replicas, 2);
}

TEST_F(ConfigReference, AConfigGivenAsTextReadsAnAbsolutePath) {
  const fs::path inference = write("inference.yaml", kInference);
  EXPECT_EQ(parse_config("inference_config_path: '" + inference.string() + "'\n").num_replicas, 3);
}

TEST_F(ConfigReference, IssuesInsideTheNamedFileNameThatFileLineAndColumn) {
  const fs::path inference = write("inference.yaml", "model_uri: m.json\nnum_replicas: two\nwait_strategy: spinn\n");
  const fs::path app = write("app.yaml", "inference_config_path: inference.yaml\n");
  const std::vector<ConfigIssue> issues = issues_of(app);
  ASSERT_EQ(issues.size(), 2u);
  for (const ConfigIssue& issue : issues) EXPECT_EQ(fs::path(issue.file), inference.lexically_normal());
  EXPECT_EQ(issues[0].line, 2);
  EXPECT_EQ(issues[0].column, 15);
  EXPECT_EQ(issues[0].key, "num_replicas");
  EXPECT_EQ(issues[1].line, 3);
  EXPECT_EQ(issues[1].column, 16);
  EXPECT_EQ(issues[1].key, "wait_strategy");
  // The thrown message leads with the named file's path, line and column.
  try {
    (void)load_config(app);
    ADD_FAILURE() << "load_config accepted " << app;
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).rfind(inference.lexically_normal().string() + ":2:15: num_replicas: ", 0), 0u)
        << error.what();
  }
}

TEST_F(ConfigReference, YamlSyntaxErrorInTheNamedFileNamesThatFile) {
  const fs::path inference = write("inference.yaml", "model_uri: [m.json\n");
  const fs::path app = write("app.yaml", "inference_config_path: inference.yaml\n");
  const std::vector<ConfigIssue> issues = issues_of(app);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(fs::path(issues[0].file), inference.lexically_normal());
  EXPECT_GT(issues[0].line, 0);
  EXPECT_EQ(issues[0].message.rfind("invalid YAML: ", 0), 0u) << issues[0].message;
}

TEST_F(ConfigReference, MissingFileIsReportedWhereItIsNamed) {
  const fs::path app = write("app.yaml", "a: 1\ninference_config_path:   nowhere/inference.yaml\n");
  const std::vector<ConfigIssue> issues = issues_of(app);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].file, app.string());
  EXPECT_EQ(issues[0].line, 2);
  EXPECT_EQ(issues[0].column, 26);
  EXPECT_EQ(issues[0].key, "inference_config_path");
  EXPECT_EQ(issues[0].message, "cannot open '" + (root_ / "nowhere/inference.yaml").string() +
                                   "' (relative to the folder of '" + app.string() +
                                   "'): No such file or directory; check the path");
}

TEST_F(ConfigReference, MissingAbsoluteFileAndAFolderAreRefused) {
  const fs::path missing = root_ / "missing.yaml";
  const fs::path app = write("app.yaml", "inference_config_path: " + missing.string() + "\n");
  std::vector<ConfigIssue> issues = issues_of(app);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].message, "cannot open '" + missing.string() + "': No such file or directory; check the path");

  fs::create_directories(root_ / "folder");
  write("app.yaml", "inference_config_path: folder\n");
  issues = issues_of(app);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].message, "cannot open '" + (root_ / "folder").string() + "' (relative to the folder of '" +
                                   app.string() + "'): Is a directory; check the path");
}

TEST_F(ConfigReference, DevicesAndFifosAreRefusedWithoutReadingThem) {
  // A FIFO (or /dev/stdin) would block the reader and /dev/zero never ends.
  for (const std::string device : {"/dev/zero", "/dev/null"}) {
    std::error_code ec;
    if (!fs::exists(device, ec)) continue;
    const fs::path app = write("app.yaml", "inference_config_path: " + device + "\n");
    const std::vector<ConfigIssue> issues = issues_of(app);
    ASSERT_EQ(issues.size(), 1u) << device;
    EXPECT_EQ(issues[0].message, "cannot open '" + device +
                                     "': not a regular file (a device, FIFO or socket); check the path");
  }
  const fs::path fifo = root_ / "fifo.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const fs::path app = write("app.yaml", "inference_config_path: fifo.yaml\n");
  const std::vector<ConfigIssue> issues = issues_of(app);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].message, "cannot open '" + fifo.string() + "' (relative to the folder of '" + app.string() +
                                   "'): not a regular file (a device, FIFO or socket); check the path");
}

TEST_F(ConfigReference, BothKeysAreAnErrorThatNamesBoth) {
  write("inference.yaml", kInference);
  const fs::path app = write("app.yaml",
                             "inference_config_path: inference.yaml\n"
                             "inference_config:\n  model_uri: m.json\n");
  const std::vector<ConfigIssue> issues = issues_of(app);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].file, app.string());
  EXPECT_EQ(issues[0].line, 2);
  EXPECT_EQ(issues[0].column, 1);
  EXPECT_EQ(issues[0].key, "inference_config");
  EXPECT_EQ(issues[0].message,
            "expected either inference_config or inference_config_path, found both "
            "(inference_config_path is at line 1, column 1); keep the config inline under "
            "inference_config, or in the file that inference_config_path names, not both");
}

TEST_F(ConfigReference, TwoPathsAreAnError) {
  write("inference.yaml", kInference);
  const fs::path app = write("app.yaml",
                             "inference_config_path: inference.yaml\n"
                             "inference_config_path: inference.yaml\n");
  const std::vector<ConfigIssue> issues = issues_of(app);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 2);
  EXPECT_EQ(issues[0].message,
            "expected one inference_config_path, found another (the first is at line 1, column 1); "
            "keep one of them");
}

TEST_F(ConfigReference, AValueThatIsNoPathIsRefused) {
  const std::string expected_prefix =
      "expected the path of the YAML file that holds the config (at most 4096 bytes, relative to "
      "this file's folder), e.g. \"inference_config_path: inference.yaml\", found ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"inference_config_path:\n", "an empty value"},
      {"inference_config_path: ''\n", "string ''"},
      {"inference_config_path: 12\n", "12"},
      {"inference_config_path: [a.yaml]\n", "a sequence"},
      {"inference_config_path: {model_uri: m.json}\n", "a mapping"},
      {"inference_config_path: '" + std::string(5000, 'x') + "'\n", "string '" + std::string(80, 'x') + "...' (5000 bytes)"},
  };
  for (const auto& [text, found] : cases) {
    const fs::path app = write("app.yaml", text);
    const std::vector<ConfigIssue> issues = issues_of(app);
    ASSERT_EQ(issues.size(), 1u) << text.substr(0, 60);
    EXPECT_EQ(issues[0].key, "inference_config_path");
    EXPECT_EQ(issues[0].message, expected_prefix + found) << text.substr(0, 60);
  }
}

TEST_F(ConfigReference, AFileNamingItselfIsACycle) {
  const fs::path app = write("app.yaml", "inference_config_path: ./app.yaml\n");
  const std::vector<ConfigIssue> issues = issues_of(app);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].file, app.string());
  EXPECT_EQ(issues[0].line, 1);
  EXPECT_EQ(issues[0].column, 24);
  EXPECT_EQ(issues[0].message, "the config files name each other in a cycle: '" + app.string() + "' -> '" +
                                   app.string() +
                                   "'; point inference_config_path at the file that holds the config itself");
}

TEST_F(ConfigReference, TwoFilesNamingEachOtherAreACycleNamedWhereItCloses) {
  const fs::path a = write("a.yaml", "inference_config_path: sub/b.yaml\n");
  const fs::path b = write("sub/b.yaml", "x: 1\ninference_config_path: ../a.yaml\n");
  const std::vector<ConfigIssue> issues = issues_of(a);
  ASSERT_EQ(issues.size(), 1u);
  // Reported in b.yaml, where the chain turns back, with the whole chain.
  EXPECT_EQ(issues[0].file, b.string());
  EXPECT_EQ(issues[0].line, 2);
  EXPECT_EQ(issues[0].message, "the config files name each other in a cycle: '" + a.string() + "' -> '" +
                                   b.string() + "' -> '" + a.string() +
                                   "'; point inference_config_path at the file that holds the config itself");
  EXPECT_THROW((void)load_config(a), Error);
}

TEST_F(ConfigReference, ACycleThroughASymlinkIsStillACycle) {
  const fs::path a = write("a.yaml", "inference_config_path: link.yaml\n");
  fs::create_symlink(a, root_ / "link.yaml");
  const std::vector<ConfigIssue> issues = issues_of(a);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].message.rfind("the config files name each other in a cycle: ", 0), 0u) << issues[0].message;
}

TEST_F(ConfigReference, ChainsLongerThanEightReferencesAreRefused) {
  // f0 -> f1 -> ... -> f8 holds the config: eight references, accepted.
  for (int i = 0; i < 8; ++i) {
    write("f" + std::to_string(i) + ".yaml", "inference_config_path: f" + std::to_string(i + 1) + ".yaml\n");
  }
  write("f8.yaml", kInference);
  EXPECT_EQ(load_config(root_ / "f0.yaml").num_replicas, 3);
  // One more hop is refused, in the file that makes it, with the chain.
  write("f8.yaml", "inference_config_path: f9.yaml\n");
  write("f9.yaml", kInference);
  const std::vector<ConfigIssue> issues = issues_of(root_ / "f0.yaml");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].file, (root_ / "f8.yaml").string());
  EXPECT_EQ(issues[0].message.rfind("the config is more than 8 inference_config_path references away ('" +
                                        (root_ / "f0.yaml").string() + "' -> ",
                                    0),
            0u)
      << issues[0].message;
}

TEST_F(ConfigReference, AMisspeltKeySuggestsInferenceConfigPath) {
  const fs::path app = write("app.yaml", "inference_config_pth: inference.yaml\n");
  const std::vector<ConfigIssue> issues = issues_of(app);
  ASSERT_FALSE(issues.empty());
  EXPECT_EQ(issues[0].message, "unknown key 'inference_config_pth'; did you mean 'inference_config_path'?");
}

}  // namespace
}  // namespace inferloop
