// resolve_model(), detect_model_format(), read_model_version(): every error a
// user can meet, on small files written here, and the happy paths on the
// trained fixture models.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.hpp"
#include "inferloop/error.hpp"
#include "inferloop/model_source.hpp"

namespace inferloop::testing {
namespace {

using ::testing::HasSubstr;

std::string resolve_error(const std::string& uri) {
  try {
    (void)resolve_model(uri);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "resolve_model('" << uri << "') did not throw";
  return {};
}

constexpr const char* kMLmodelWithoutXgboost = R"(flavors:
  python_function:
    loader_module: mlflow.sklearn
    data: model.pkl
  sklearn:
    pickled_model: model.pkl
mlflow_version: 3.17.2
)";

std::string mlmodel_for(const std::string& data_file, const std::string& inputs_json) {
  return "flavors:\n"
         "  xgboost:\n"
         "    code: null\n"
         "    data: " + data_file + "\n"
         "    model_format: ubj\n"
         "    xgb_version: 1.7.4\n"
         "signature:\n"
         "  inputs: '" + inputs_json + "'\n";
}

TEST(ModelSource, MissingPathNamesTheAbsolutePathAndWhatToDo) {
  ScratchDir dir;
  const std::string uri = (dir.path() / "no-such-model.ubj").string();
  EXPECT_EQ(resolve_error(uri),
            "model_uri '" + uri + "': no such file or directory '" + uri +
                "'; point model_uri at a model file (XGBoost .json/.ubj, or a LightGBM text model) or an MLflow model folder");
}

TEST(ModelSource, MissingRelativePathIsReportedAbsolute) {
  const std::string message = resolve_error("models/nowhere");
  EXPECT_THAT(message, HasSubstr("model_uri 'models/nowhere': no such file or directory '" +
                                 (fs::current_path() / "models/nowhere").string() + "'"));
}

TEST(ModelSource, FolderWithoutMLmodel) {
  ScratchDir dir;
  dir.write("model/readme.txt", "not an MLflow model");
  const std::string folder = (dir.path() / "model").string();
  EXPECT_EQ(resolve_error(folder),
            "model_uri '" + folder + "': folder '" + folder +
                "' has no MLmodel file, so it is not an MLflow model folder; point model_uri at "
                "a model file (XGBoost .json/.ubj, or a LightGBM text model) or an MLflow model "
                "folder");
}

TEST(ModelSource, MLmodelWithoutXgboostOrLightgbmFlavorListsTheFlavorsItHas) {
  ScratchDir dir;
  const fs::path mlmodel = dir.write("model/MLmodel", kMLmodelWithoutXgboost);
  EXPECT_EQ(resolve_error((dir.path() / "model").string()),
            mlmodel.string() + ":2:3: the model has no xgboost or lightgbm flavor (its flavors: "
                               "'python_function', 'sklearn'); inferloop serves those two: log the "
                               "model with mlflow.xgboost.log_model() or "
                               "mlflow.lightgbm.log_model()");
}

// A one-tree LightGBM text model, as save_model writes it (tree_sizes: the
// bytes of the "Tree=0" block, its empty line included).
std::string tiny_lightgbm_model() {
  const std::string tree =
      "Tree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\n"
      "decision_type=2\nleft_child=-1\nright_child=-2\nleaf_value=-1 2\nleaf_weight=1 1\n"
      "leaf_count=1 1\ninternal_value=0\ninternal_weight=1\ninternal_count=2\nshrinkage=1\n\n";
  return "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
         "max_feature_idx=1\nobjective=binary sigmoid:1\nfeature_names=a b\n"
         "feature_infos=[-1:1] [-1:1]\ntree_sizes=" + std::to_string(tree.size()) + "\n\n" + tree +
         "end of trees\n";
}

TEST(ModelSource, MLmodelLightgbmFlavorResolvesToTheTextModelWithItsLibraryVersion) {
  ScratchDir dir;
  dir.write("model/model.lgb", tiny_lightgbm_model());
  dir.write("model/MLmodel",
            "flavors:\n"
            "  lightgbm:\n"
            "    data: model.lgb\n"
            "    lgb_version: 4.7.0\n"
            "    model_class: lightgbm.basic.Booster\n"
            "  python_function:\n"
            "    data: model.lgb\n");
  const ResolvedModel folder = resolve_model((dir.path() / "model").string());
  EXPECT_EQ(folder.format, ModelFormat::kLightGBM);
  EXPECT_EQ(folder.mlflow_flavor, "lightgbm");
  EXPECT_EQ(folder.model_file, dir.path() / "model" / "model.lgb");
  EXPECT_EQ(folder.mlflow_lightgbm_version, "4.7.0");
  EXPECT_FALSE(folder.mlflow_xgb_version.has_value());
  EXPECT_EQ(saved_by_text(folder), "saved by lightgbm 4.7.0 (MLmodel lgb_version)");

  const ResolvedModel file = resolve_model((dir.path() / "model" / "model.lgb").string());
  EXPECT_EQ(file.format, ModelFormat::kLightGBM);
  EXPECT_EQ(file.mlflow_flavor, "");
  EXPECT_EQ(saved_by_text(file),
            "saved by lightgbm (version not recorded: a model file has only its format version)");
}

TEST(ModelSource, MLmodelOfAPickledLightgbmEstimatorIsRefusedNamingTheBooster) {
  ScratchDir dir;
  dir.write("model/model.pkl", "not a text model");
  const fs::path mlmodel = dir.write("model/MLmodel",
                                     "flavors:\n"
                                     "  lightgbm:\n"
                                     "    data: model.pkl\n"
                                     "    model_class: lightgbm.sklearn.LGBMClassifier\n");
  EXPECT_EQ(resolve_error((dir.path() / "model").string()),
            mlmodel.string() + ":4:18: flavors.lightgbm.model_class is "
                               "'lightgbm.sklearn.LGBMClassifier', which mlflow.lightgbm stores "
                               "serialized as a Python object; inferloop reads LightGBM's text "
                               "model: log the estimator's booster "
                               "(mlflow.lightgbm.log_model(model.booster_, ...))");
}

TEST(ModelSource, MLmodelLightgbmFlavorNamingANonLightgbmFileIsRefused) {
  ScratchDir dir;
  dir.write("model/model.lgb", "{\"learner\": {}}");
  dir.write("model/MLmodel", "flavors:\n  lightgbm:\n    data: model.lgb\n");
  const std::string folder = (dir.path() / "model").string();
  EXPECT_EQ(resolve_error(folder),
            "model_uri '" + folder + "': the MLmodel's lightgbm flavor names '" + folder +
                "/model.lgb', which is not a LightGBM text model (it does not start with the "
                "line \"tree\"); log the model again with mlflow.lightgbm.log_model()");
}

TEST(ModelSource, MLmodelWhoseDataFileIsMissing) {
  ScratchDir dir;
  const fs::path mlmodel = dir.write("model/MLmodel", mlmodel_for("model.ubj", "[]"));
  EXPECT_EQ(resolve_error((dir.path() / "model").string()),
            mlmodel.string() + ":4:11: flavors.xgboost.data names 'model.ubj', but '" +
                (dir.path() / "model" / "model.ubj").string() +
                "' does not exist; the MLflow model folder is incomplete: download or copy the "
                "whole folder again");
}

// flavors.xgboost.data must name a file inside the model folder: the folder
// may come from anywhere, and what `data` names is read (and, before the
// gate, had its first bytes quoted in errors).
TEST(ModelSource, MLmodelDataThatLeavesTheFolderIsRefused) {
  ScratchDir dir;
  dir.write("secret.json", tiny_model_json());
  dir.write("model/inside.json", tiny_model_json());
  fs::create_directories(dir.path() / "model" / "sub");
  fs::create_symlink(dir.path() / "secret.json", dir.path() / "model" / "link.json");
  const std::string folder = (dir.path() / "model").string();
  const fs::path mlmodel = dir.path() / "model" / "MLmodel";
  const std::string names = mlmodel.string() + ":4:11: flavors.xgboost.data names ";
  struct Case {
    std::string data;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"../secret.json", names + "'../secret.json', which is outside the MLflow model "
                                      "folder; it must name the model file inside it (e.g. "
                                      "data: model.ubj): log the model again"},
           {"../../../../../../etc/passwd", names + "'../../../../../../etc/passwd', which is "
                                                    "outside the MLflow model folder"},
           {"sub/../../secret.json", names + "'sub/../../secret.json', which is outside the "
                                             "MLflow model folder"},
           {(dir.path() / "secret.json").string(),
            names + "'" + (dir.path() / "secret.json").string() + "', an absolute path"},
           {"link.json", names + "'link.json', which resolves (through a symbolic link) to a "
                                 "file outside the MLflow model folder"},
           {"sub", names + "'sub', which is not a regular file"},
       }) {
    SCOPED_TRACE(c.data);
    dir.write("model/MLmodel", mlmodel_for(c.data, "[]"));
    EXPECT_THAT(resolve_error(folder), HasSubstr(c.expected));
  }
  // YAML can spell a NUL; the file system would see only what precedes it.
  dir.write("model/MLmodel", "flavors:\n  xgboost:\n    data: \"inside.json\\0/../../secret.json\"\n");
  EXPECT_THAT(resolve_error(folder), HasSubstr("which holds a NUL character"));
  dir.write("model/MLmodel", mlmodel_for("./sub/../inside.json", "[]"));
  EXPECT_EQ(resolve_model(folder).model_file, dir.path() / "model" / "inside.json");
}

TEST(ModelSource, MLmodelThatIsALinkOutOfTheFolderOrHugeIsNotRead) {
  ScratchDir dir;
  dir.write("model/model.json", tiny_model_json());
  const fs::path outside = dir.write("elsewhere.yaml", mlmodel_for("model.json", "[]"));
  fs::create_symlink(outside, dir.path() / "model" / "MLmodel");
  const std::string folder = (dir.path() / "model").string();
  EXPECT_EQ(resolve_error(folder),
            (dir.path() / "model" / "MLmodel").string() +
                ": is a symbolic link to a file outside the MLflow model folder; inferloop reads "
                "only files inside it");
  fs::remove(dir.path() / "model" / "MLmodel");
  const fs::path huge =
      dir.write("model/MLmodel", mlmodel_for("model.json", "[]") + "# " + std::string(5 << 20, 'x'));
  EXPECT_EQ(resolve_error(folder),
            huge.string() + ": is " + std::to_string(fs::file_size(huge)) +
                " bytes; an MLmodel file is a few KiB and inferloop reads at most 4194304 bytes "
                "of it");
}

TEST(ModelSource, MalformedSignaturesAreErrorsNotCrashes) {
  ScratchDir dir;
  dir.write("model/model.json", tiny_model_json());
  const std::string folder = (dir.path() / "model").string();
  // A column name that is not a string (nlohmann threw a type_error that
  // escaped as a non-inferloop exception).
  dir.write("model/MLmodel", mlmodel_for("model.json", R"([{"name": 7, "type": "float"}])"));
  EXPECT_THAT(resolve_error(folder),
              HasSubstr(":8:11: signature.inputs: \"name\" of an input is a number, expected a "
                        "string"));
  // A tensor claiming 10^12 columns (one SignatureColumn each).
  dir.write("model/MLmodel",
            mlmodel_for("model.json",
                        R"([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1000000000000]}}])"));
  EXPECT_THAT(resolve_error(folder),
              HasSubstr(":8:11: signature.inputs: the tensor has 1000000000000 inputs per row; "
                        "inferloop serves at most 4194304"));
}

TEST(ModelSource, MLmodelThatIsNotYaml) {
  ScratchDir dir;
  const fs::path mlmodel = dir.write("model/MLmodel", "flavors: [unclosed\n");
  EXPECT_THAT(resolve_error((dir.path() / "model").string()),
              HasSubstr(mlmodel.string() + ":2:1: is not valid YAML"));
}

TEST(ModelSource, SignatureThatIsNotJson) {
  ScratchDir dir;
  dir.write("model/model.json", tiny_model_json());
  const fs::path mlmodel = dir.write("model/MLmodel", mlmodel_for("model.json", "[{oops"));
  const std::string message = resolve_error((dir.path() / "model").string());
  EXPECT_THAT(message, HasSubstr(mlmodel.string() + ":8:11: signature.inputs: is not valid JSON"));
}

// What the admission gate says about a file that is not JSON or UBJSON
// (which includes XGBoost's legacy binary format, refused because nothing
// in it can be checked before libxgboost trusts it).
std::string not_json_or_ubjson(const fs::path& file, const std::string& first_bytes) {
  return "'" + file.string() + "': not an XGBoost JSON or UBJSON model (" + first_bytes +
         "). inferloop loads only JSON and UBJSON models, whose layout it checks before "
         "libxgboost reads them; XGBoost's legacy binary format cannot be checked. If it is a "
         "legacy binary model, re-save it as UBJSON with the xgboost that wrote it: "
         "booster.save_model(\"model.ubj\")";
}

TEST(ModelSource, CsvIsNotAModel) {
  ScratchDir dir;
  const fs::path csv = dir.write("features.csv", "a,b,c\n1,2,3\n");
  EXPECT_EQ(resolve_error(csv.string()),
            not_json_or_ubjson(csv, "it starts with 'a,b,c\\n1,2,3\\n'"));
}

TEST(ModelSource, RandomBytesAreNotAModelAndNeverReachLibxgboost) {
  ScratchDir dir;
  std::string bytes(1024, '\0');
  std::mt19937 random(42);
  for (char& byte : bytes) byte = static_cast<char>(random() & 0xFF);
  bytes[0] = '\x01';  // not '{': neither JSON nor UBJSON
  const fs::path file = dir.write("model.bin", bytes);
  // Before the gate, a file like this went to libxgboost's legacy loader at
  // resolution; now no predictor or library sees it.
  EXPECT_THAT(resolve_error(file.string()),
              HasSubstr("'" + file.string() + "': not an XGBoost JSON or UBJSON model (its first "
                        "bytes are 01 "));
}

TEST(ModelSource, JsonWithTheModelExtensionButBroken) {
  ScratchDir dir;
  const fs::path file = dir.write("model.json", "{\"learner\": ");
  EXPECT_THAT(resolve_error(file.string()),
              HasSubstr("'" + file.string() + "': not an XGBoost model: it does not parse as "
                        "JSON ('[json.exception.parse_error.101] parse error at line 1, column 13"));
}

TEST(ModelSource, JsonThatIsNotAnXGBoostModel) {
  ScratchDir dir;
  const fs::path file = dir.write("model.json", R"({"weights": [1, 2, 3]})");
  EXPECT_EQ(resolve_error(file.string()),
            "'" + file.string() + "': not an XGBoost model: it is valid JSON but has no "
            "\"learner\" object and \"version\" [major, minor, patch] array; if the file was not "
            "written by xgboost's save_model, or is damaged, re-save the model with xgboost: "
            "booster.save_model(\"model.ubj\")");
}

TEST(ModelSource, SchemesOutsideMlflowAndS3AreRefusedByName) {
  // models:/, runs:/, mlflow-artifacts:/, http(s) and s3:// go to
  // MlflowClient (tests/mlflow); other stores MLflow's client reads do not,
  // and the URI grammar (parse_model_uri) says so, whoever asks.
  EXPECT_EQ(resolve_error("gs://bucket/some/model"),
            "model_uri 'gs://bucket/some/model': Google Cloud Storage (gs://) is not a store "
            "inferloop reads: it reads MLflow's artifact proxy (mlflow-artifacts:/, `mlflow server "
            "--serve-artifacts`, the default), S3 and S3-compatible stores (s3://) and local "
            "folders. Serve the artifacts through the tracking server, or download the model "
            "(`mlflow artifacts download -u URI -d DIR`) and set model_uri to DIR");
  const std::string hdfs = resolve_error("hdfs://namenode/some/model");
  EXPECT_NE(hdfs.find("model_uri 'hdfs://namenode/some/model': scheme 'hdfs:' is not one "
                      "inferloop resolves; the model URI forms are models:/<name>/<version>"),
            std::string::npos)
      << hdfs;
}

TEST(ModelSource, FileUriIsPercentDecoded) {
  ScratchDir dir;
  const fs::path file =
      dir.write("with space/model.json", tiny_model_json());
  const std::string encoded = (dir.path() / "with%20space/model.json").string();
  const ResolvedModel model = resolve_model("file://" + encoded);
  EXPECT_EQ(model.model_file, file);
  EXPECT_EQ(model.format, ModelFormat::kJson);
  EXPECT_EQ(model.saved_by_version, (std::vector<int>{1, 7, 4}));
  EXPECT_EQ(resolve_model("file://localhost" + encoded).model_file, file);
  EXPECT_EQ(resolve_model("file:" + encoded).model_file, file);
  EXPECT_FALSE(model.mlmodel_file.has_value());
  EXPECT_TRUE(model.signature_inputs.empty());
}

TEST(ModelSource, FileUriErrors) {
  EXPECT_EQ(resolve_error("file://example.com/models/m.ubj"),
            "model_uri 'file://example.com/models/m.ubj': file:// URI names host 'example.com'; "
            "only local files can be read: use file:///absolute/path (three slashes)");
  EXPECT_EQ(resolve_error("file:///models/bad%2"),
            "model_uri 'file:///models/bad%2': bad percent-escape '%2' in the path (expected %XX "
            "with two hex digits); write '%' as %25");
}

TEST(ModelSource, PlainPathsAreNotPercentDecoded) {
  ScratchDir dir;
  const fs::path file = dir.write("100%25/model.json", tiny_model_json("3, 2, 0"));
  EXPECT_EQ(resolve_model(file.string()).model_file, file);
}

TEST(ModelSource, FormatIsSniffedLikeXGBoostDoes) {
  ScratchDir dir;
  EXPECT_EQ(detect_model_format(dir.write("a.json", "x")), ModelFormat::kJson);
  EXPECT_EQ(detect_model_format(dir.write("a.ubj", "x")), ModelFormat::kUbjson);
  EXPECT_EQ(detect_model_format(dir.write("a.txt", "{\"learner\": 1}")), ModelFormat::kJson);
  EXPECT_EQ(detect_model_format(dir.write("a.model", "{L\x07")), ModelFormat::kUbjson);
  EXPECT_EQ(detect_model_format(dir.write("a.bin", std::string("binf\0\0", 6))),
            ModelFormat::kLegacyBinary);
  EXPECT_EQ(to_string(ModelFormat::kUbjson), "UBJSON");
}

TEST(ModelSource, TensorSignatureGivesUnnamedColumns) {
  ScratchDir dir;
  dir.write("model/model.json", tiny_model_json());
  dir.write("model/MLmodel",
            mlmodel_for("model.json",
                        R"([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}])"));
  const ResolvedModel model = resolve_model((dir.path() / "model").string());
  ASSERT_EQ(model.signature_inputs.size(), 4U);
  EXPECT_EQ(model.signature_inputs[0].name, "");
  EXPECT_EQ(model.signature_inputs[0].type, "float32");
  EXPECT_EQ(model.mlflow_xgb_version, "1.7.4");
}

TEST(ModelSource, FixtureModelsResolve) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  for (const FixtureSet& set : sets) {
    for (const FixtureModel& fixture : set.models) {
      SCOPED_TRACE(fixture.mlflow.string());
      const ResolvedModel folder = resolve_model(fixture.mlflow.string());
      EXPECT_EQ(folder.model_file, fixture.mlflow / "model.ubj");
      EXPECT_EQ(folder.format, ModelFormat::kUbjson);
      EXPECT_EQ(folder.saved_by_version, set.xgboost_version);
      EXPECT_EQ(folder.mlmodel_file, fixture.mlflow / "MLmodel");
      EXPECT_EQ(folder.mlflow_xgb_version, version_text(set.xgboost_version));
      ASSERT_EQ(folder.signature_inputs.size(), set.num_features);
      for (std::size_t i = 0; i < set.num_features; ++i) {
        EXPECT_EQ(folder.signature_inputs[i].name, "f" + std::to_string(i));
        EXPECT_EQ(folder.signature_inputs[i].type, "float");
      }
      EXPECT_EQ(resolve_model("file://" + fixture.mlflow.string()).model_file, folder.model_file);

      const ResolvedModel json = resolve_model(fixture.json.string());
      EXPECT_EQ(json.format, ModelFormat::kJson);
      EXPECT_EQ(json.saved_by_version, set.xgboost_version);
      EXPECT_EQ(read_model_version(fixture.ubj, ModelFormat::kUbjson), set.xgboost_version);
    }
  }
}

}  // namespace
}  // namespace inferloop::testing
