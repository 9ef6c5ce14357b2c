// `inferloop predict`: batch scoring of a feature CSV through the same
// registry and predictor the inference loop uses, so that a file scored here
// and the same rows served live give the same bits.
//
// The output file is created before the model is resolved or the input
// read, and each batch of rows is written as soon as it is scored.
#include <algorithm>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "commands.hpp"
#include "subcommand.hpp"
#include "console.hpp"
#include "csv.hpp"
#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"
#include "output_file.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

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
  --output CSV       where to write the results (- for standard output);
                     created first, written batch by batch
  --predictor NAME   registered predictor (default XGBoostPredictor)
  --output-kind K    transformed (default: probabilities, ...) or margin
  --device D         cpu (default), cuda or cuda:N
  --threads N        threads per predict call, 1 to 256 (default 1): XGBoost's
                     nthread; ForestPredictor splits each batch over a thread
                     pool. The output is the same, byte for byte

Exit status: 0 success, 1 error (model, data), 2 usage error.
)";

// Rows per predict() call: big enough to amortise the call, small enough to
// keep the scratch buffers modest on huge files.
constexpr std::size_t kBatchRows = 4096;

struct PredictOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> model_uri;
  std::optional<std::string> predictor;
  std::optional<std::string> output_kind;
  std::optional<std::string> device;
  std::optional<std::size_t> threads;
  std::string input;
  std::string output;
};

PredictOptions parse_options(const std::vector<std::string>& args) {
  PredictOptions options;
  ArgumentReader reader(args);
  while (!reader.done()) {
    const std::string name = reader.next();
    if (!name.starts_with("--")) {
      if (options.config_file) {
        throw UsageError("expected at most one CONFIG, found " + detail::quote(*options.config_file) +
                         " and " + detail::quote(name));
      }
      options.config_file = name;
    } else if (name == "--model-uri") {
      options.model_uri = reader.value();
    } else if (name == "--predictor") {
      options.predictor = reader.value();
    } else if (name == "--output-kind") {
      options.output_kind = reader.value();
      if (*options.output_kind != "transformed" && *options.output_kind != "margin") {
        throw UsageError("--output-kind: expected transformed or margin, found " +
                         detail::quote(*options.output_kind));
      }
    } else if (name == "--device") {
      options.device = reader.value();
    } else if (name == "--threads") {
      options.threads = parse_threads_flag(name, reader.value());
    } else if (name == "--input") {
      options.input = reader.value();
    } else if (name == "--output") {
      options.output = reader.value();
    } else {
      throw UsageError("unknown option " + detail::quote(name));
    }
  }
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
    throw Error(input + ":1: the header " + detail::quote(join(table.header), 400) +
                " does not match the MLmodel signature " +
                model.mlmodel_file.value_or(model.model_file).string() + ": " +
                detail::quote(join(expected), 400) +
                "; name and order the columns as the signature does");
  }
}

int score(const PredictOptions& options) {
  // An output path that cannot be written fails now, before the model is
  // resolved and the input read; the file is created once they have been.
  const bool to_stdout = options.output == "-";
  if (!to_stdout) check_output_path(options.output, "--output");

  InferenceConfig config;
  if (options.config_file) config = load_config(*options.config_file);
  if (options.model_uri) config.model_uri = *options.model_uri;
  if (options.predictor) config.predictor_class_name = *options.predictor;
  if (options.output_kind) {
    config.output = *options.output_kind == "margin" ? OutputKind::kMargin : OutputKind::kTransformed;
  }
  if (options.device) config.device = *options.device;
  if (options.threads) config.predictor_threads = detail::narrow<int>(*options.threads, "--threads");

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
  std::optional<OutputFile> output_file;
  if (!to_stdout) output_file.emplace(options.output, "--output");
  std::ostream& out = output_file ? output_file->stream() : std::cout;

  for (std::size_t c = 0; c < table.header.size(); ++c) out << (c == 0 ? "" : ",") << table.header[c];
  if (num_outputs == 1) {
    out << ",prediction";
  } else {
    for (std::size_t k = 0; k < num_outputs; ++k) out << ",prediction_" << k;
  }
  out << '\n';

  // Scored and written a batch at a time: the predictions of one batch are
  // all that is held besides the input.
  const std::span<const float> features(table.values);
  std::vector<float> predictions(kBatchRows * num_outputs);
  for (std::size_t first = 0; first < table.rows(); first += kBatchRows) {
    const std::size_t count = std::min(kBatchRows, table.rows() - first);
    const std::span<const float> batch = features.subspan(first * num_features, count * num_features);
    predictor->predict(batch, count, std::span<float>(predictions).first(count * num_outputs));
    for (std::size_t row = 0; row < count; ++row) {
      write_csv_row(out, batch.subspan(row * num_features, num_features),
                    std::span<const float>(predictions).subspan(row * num_outputs, num_outputs));
    }
    if (output_file) output_file->flush();
  }
  if (output_file) {
    output_file->flush();
  } else {
    out.flush();
    if (!out) throw Error("cannot write to standard output");
  }
  return 0;
}

}  // namespace

int predict_command(const std::vector<std::string>& args) {
  return run_subcommand("predict", kPredictUsage, args, parse_options, score);
}

}  // namespace inferloop::cli
