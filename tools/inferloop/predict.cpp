// `inferloop predict`: batch scoring of a feature CSV through the same
// registry and predictor the inference loop uses, so that a file scored here
// and the same rows served live give the same bits.
#include <algorithm>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "csv.hpp"
#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop::cli {
namespace {

constexpr const char* kPredictUsage =
    R"(usage: inferloop predict [CONFIG] --model-uri URI --input CSV --output CSV
                         [--predictor NAME] [--output-kind transformed|margin]
                         [--device cpu|cuda|cuda:N] [--threads N]

Scores every row of a feature CSV and writes one output row per input row: the
input columns, then `prediction` (one output per row) or `prediction_0` ..
`prediction_<k-1>` (k outputs, e.g. class probabilities). Values are written so
that they read back bit-identical.

  CONFIG             optional inferloop YAML config; the options below override it
  --model-uri URI    model file (.json/.ubj) or MLflow model folder (path or file:// URI)
  --input CSV        header line, then one row per prediction; columns are the
                     features in model order (named as in the MLmodel signature,
                     when the model has one); empty, nan or NA cells are missing
  --output CSV       where to write the results; - for standard output
  --predictor NAME   registered predictor (default XGBoostPredictor)
  --output-kind K    transformed (default: probabilities, ...) or margin
  --device D         cpu (default), cuda or cuda:N
  --threads N        threads per predict call (XGBoost's nthread; default 1)

Exit status: 0 success, 1 error (model, data), 2 usage error.
)";

// Rows per predict() call: big enough to amortise the call, small enough to
// keep the scratch buffers modest on huge files.
constexpr std::size_t kBatchRows = 4096;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct PredictOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> model_uri;
  std::optional<std::string> predictor;
  std::optional<std::string> output_kind;
  std::optional<std::string> device;
  std::optional<int> threads;
  std::string input;
  std::string output;
  bool help = false;
};

PredictOptions parse_options(const std::vector<std::string>& args) {
  PredictOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> inline_value;
    if (name == "--help" || name == "-h") {
      options.help = true;
      continue;
    }
    if (!name.starts_with("--")) {
      if (options.config_file) {
        throw UsageError("expected at most one CONFIG, found '" + *options.config_file +
                         "' and '" + name + "'");
      }
      options.config_file = name;
      continue;
    }
    if (const std::size_t equals = name.find('='); equals != std::string::npos) {
      inline_value = name.substr(equals + 1);
      name.resize(equals);
    }
    const auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw UsageError("option '" + name + "' needs a value");
      return args[++i];
    };
    if (name == "--model-uri") {
      options.model_uri = value();
    } else if (name == "--predictor") {
      options.predictor = value();
    } else if (name == "--output-kind") {
      options.output_kind = value();
      if (*options.output_kind != "transformed" && *options.output_kind != "margin") {
        throw UsageError("--output-kind: expected transformed or margin, found '" +
                         *options.output_kind + "'");
      }
    } else if (name == "--device") {
      options.device = value();
    } else if (name == "--threads") {
      const std::string text = value();
      std::size_t used = 0;
      int threads = 0;
      try {
        threads = std::stoi(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != text.size() || threads < 1 || threads > 256) {
        throw UsageError("--threads: expected an integer from 1 to 256, found '" + text + "'");
      }
      options.threads = threads;
    } else if (name == "--input") {
      options.input = value();
    } else if (name == "--output") {
      options.output = value();
    } else {
      throw UsageError("unknown option '" + name + "'");
    }
  }
  if (options.help) return options;
  if (!options.config_file && !options.model_uri) {
    throw UsageError("no model: give --model-uri URI (or a CONFIG that sets model_uri)");
  }
  if (options.input.empty()) throw UsageError("missing --input CSV");
  if (options.output.empty()) throw UsageError("missing --output CSV (- for standard output)");
  return options;
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
  return text;
}

void check_header(const CsvTable& table, const std::string& input, const ResolvedModel& model,
                  std::size_t num_features) {
  if (table.header.size() != num_features) {
    throw Error(input + ":1: has " + std::to_string(table.header.size()) +
                " columns, but the model " + model.model_file.string() + " takes " +
                std::to_string(num_features) +
                " features; give exactly the model's features, in model order");
  }
  const auto& signature = model.signature_inputs;
  const bool named = std::any_of(signature.begin(), signature.end(),
                                 [](const SignatureColumn& column) { return !column.name.empty(); });
  if (!named) return;
  std::vector<std::string> expected;
  for (const SignatureColumn& column : signature) expected.push_back(column.name);
  if (expected != table.header) {
    throw Error(input + ":1: the header " + join(table.header) +
                " does not match the MLmodel signature " +
                model.mlmodel_file.value_or(model.model_file).string() + ": " + join(expected) +
                "; name and order the columns as the signature does");
  }
}

int score(const PredictOptions& options) {
  InferenceConfig config;
  if (options.config_file) config = load_config(*options.config_file);
  if (options.model_uri) config.model_uri = *options.model_uri;
  if (options.predictor) config.predictor_class_name = *options.predictor;
  if (options.output_kind) {
    config.output = *options.output_kind == "margin" ? OutputKind::kMargin : OutputKind::kTransformed;
  }
  if (options.device) config.device = *options.device;
  if (options.threads) config.predictor_threads = *options.threads;

  const ResolvedModel model = resolve_model(config.model_uri, mlflow_options(config));
  SharedPredictorState shared;
  const PredictorContext context{config, model, 0, shared};
  const std::unique_ptr<Predictor> predictor =
      PredictorRegistry::global().create(config.predictor_class_name, context);
  predictor->warm_up();
  const std::size_t num_features = predictor->num_features();
  const std::size_t num_outputs = predictor->num_outputs();

  const CsvTable table = read_csv(options.input);
  check_header(table, options.input, model, num_features);

  const std::size_t rows = table.rows();
  std::vector<float> predictions(rows * num_outputs);
  for (std::size_t first = 0; first < rows; first += kBatchRows) {
    const std::size_t count = std::min(kBatchRows, rows - first);
    predictor->predict(
        std::span<const float>(table.values).subspan(first * num_features, count * num_features),
        count, std::span<float>(predictions).subspan(first * num_outputs, count * num_outputs));
  }

  std::vector<std::string> header = table.header;
  if (num_outputs == 1) {
    header.emplace_back("prediction");
  } else {
    for (std::size_t k = 0; k < num_outputs; ++k) header.push_back("prediction_" + std::to_string(k));
  }
  const std::size_t width = num_features + num_outputs;
  std::vector<float> merged(rows * width);
  for (std::size_t row = 0; row < rows; ++row) {
    std::copy_n(table.values.begin() + static_cast<long>(row * num_features), num_features,
                merged.begin() + static_cast<long>(row * width));
    std::copy_n(predictions.begin() + static_cast<long>(row * num_outputs), num_outputs,
                merged.begin() + static_cast<long>(row * width + num_features));
  }

  if (options.output == "-") {
    write_csv(std::cout, header, merged);
    std::cout.flush();
    if (!std::cout) throw Error("cannot write to standard output");
    return 0;
  }
  std::ofstream out(options.output, std::ios::binary | std::ios::trunc);
  if (!out) {
    throw Error(options.output + ": cannot open for writing; check the folder exists and is " +
                "writable");
  }
  write_csv(out, header, merged);
  out.close();
  if (!out) throw Error(options.output + ": write failed (disk full?)");
  return 0;
}

}  // namespace

int predict_command(const std::vector<std::string>& args) {
  PredictOptions options;
  try {
    options = parse_options(args);
  } catch (const UsageError& error) {
    std::cerr << "inferloop predict: " << error.what()
              << "\nrun 'inferloop predict --help' for usage\n";
    return 2;
  }
  if (options.help) {
    std::cout << kPredictUsage;
    return 0;
  }
  try {
    return score(options);
  } catch (const std::exception& error) {
    std::cerr << "inferloop predict: error: " << error.what() << "\n";
    return 1;
  }
}

}  // namespace inferloop::cli
