// predict(): batch scoring from Python, through the same resolve_model() and
// PredictorRegistry the loop uses (and `inferloop predict`), so a matrix
// scored here and the same rows served live give the same bits.
//
// Rows are split into `threads` contiguous blocks, each scored by its own
// predictor instance on its own thread (the GIL released): a row's
// prediction never depends on the other rows, so the split changes speed,
// never values. Shapes follow xgboost's predict(): (rows,) for one output
// per row, (rows, outputs) otherwise.
#include <algorithm>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "inferloop/config.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"
#include "numpy_output.hpp"

namespace inferloop::python {
namespace {

OutputKind output_kind(const std::string& output) {
  if (output == "transformed") return OutputKind::kTransformed;
  if (output == "margin") return OutputKind::kMargin;
  throw nb::value_error(("predict: output must be 'transformed' or 'margin', found '" + output + "'")
                            .c_str());
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// A DataFrame's columns against the MLmodel signature, as `inferloop predict`
// checks a CSV header: same names, same order.
void check_columns(const std::vector<std::string>& columns, const ResolvedModel& model) {
  std::vector<std::string> expected;
  for (const SignatureColumn& column : model.signature_inputs) {
    if (column.name.empty()) return;  // an unnamed signature says nothing about names
    expected.push_back(column.name);
  }
  if (expected.empty() || expected == columns) return;
  throw nb::value_error(("predict: the columns [" + joined(columns) +
                         "] do not match the MLmodel signature of '" + model.uri + "': [" +
                         joined(expected) + "]; name and order the columns as the signature does")
                            .c_str());
}

nb::object score(const std::string& model_uri, nb::handle features, const std::string& predictor,
                 const std::string& output, std::size_t threads, const std::string& device,
                 const std::string& mlflow_tracking_uri, const std::string& model_cache_dir,
                 std::optional<std::vector<std::string>> column_names) {
  if (threads == 0 || threads > 256) {
    throw nb::value_error(("predict: threads must be 1..256, found " + std::to_string(threads)).c_str());
  }
  InferenceConfig config;
  config.model_uri = model_uri;
  config.predictor_class_name = predictor;
  config.output = output_kind(output);
  config.device = device;
  config.mlflow_tracking_uri = mlflow_tracking_uri;
  config.model_cache_dir = model_cache_dir;
  const FeatureMatrix matrix = feature_matrix(features, "predict(X)");

  std::vector<float> out;
  std::size_t num_outputs = 0;
  {
    nb::gil_scoped_release release;
    const ResolvedModel model = resolve_model(config.model_uri, mlflow_options(config));
    // nb::value_error is a plain C++ exception until nanobind translates it
    // (with the GIL, after this function returns): safe to throw here.
    if (column_names) check_columns(*column_names, model);
    SharedPredictorState shared;
    const std::size_t blocks = std::max<std::size_t>(1, std::min(threads, matrix.rows));
    std::vector<std::unique_ptr<Predictor>> predictors;
    for (std::size_t block = 0; block < blocks; ++block) {
      predictors.push_back(PredictorRegistry::global().create(
          config.predictor_class_name, PredictorContext{config, model, block, shared}));
    }
    const std::size_t cols = predictors.front()->num_features();
    num_outputs = predictors.front()->num_outputs();
    if (matrix.cols != cols) {
      throw nb::value_error(("predict(X): X has " + std::to_string(matrix.cols) +
                             " columns, but the model '" + model_uri + "' takes " +
                             std::to_string(cols) + " features; give one column per model "
                             "feature, in the model's order").c_str());
    }
    out.resize(matrix.rows * num_outputs);
    const std::size_t rows_per_block = (matrix.rows + blocks - 1) / std::max<std::size_t>(blocks, 1);
    std::vector<std::exception_ptr> failures(blocks);
    auto run_block = [&](std::size_t block) {
      const std::size_t first = block * rows_per_block;
      const std::size_t count = std::min(rows_per_block, matrix.rows - std::min(first, matrix.rows));
      if (count == 0) return;
      try {
        predictors[block]->predict(matrix.values().subspan(first * cols, count * cols), count,
                                   std::span<float>(out).subspan(first * num_outputs,
                                                                 count * num_outputs));
      } catch (...) {
        failures[block] = std::current_exception();
      }
    };
    if (matrix.rows > 0) {
      std::vector<std::thread> workers;
      for (std::size_t block = 1; block < blocks; ++block) workers.emplace_back(run_block, block);
      run_block(0);
      for (std::thread& worker : workers) worker.join();
    }
    for (const std::exception_ptr& failure : failures) {
      if (failure) std::rethrow_exception(failure);
    }
  }
  if (num_outputs == 1) return to_numpy(std::move(out), {matrix.rows});
  return to_numpy(std::move(out), {matrix.rows, num_outputs});
}

}  // namespace

void bind_predict(nb::module_& module) {
  module.def("_predict", &score, nb::arg("model_uri"), nb::arg("X"), nb::arg("predictor"),
             nb::arg("output"), nb::arg("threads"), nb::arg("device"),
             nb::arg("mlflow_tracking_uri"), nb::arg("model_cache_dir"),
             nb::arg("column_names").none(),
             "The compiled part of inferloop.predict(); call that instead.");
  module.def(
      "resolve_model",
      [](const std::string& model_uri, const std::string& mlflow_tracking_uri,
         const std::string& model_cache_dir) {
        InferenceConfig config;
        config.model_uri = model_uri;
        config.mlflow_tracking_uri = mlflow_tracking_uri;
        config.model_cache_dir = model_cache_dir;
        nb::gil_scoped_release release;
        return resolve_model(config.model_uri, mlflow_options(config));
      },
      nb::arg("model_uri"), nb::kw_only(), nb::arg("mlflow_tracking_uri") = "",
      nb::arg("model_cache_dir") = "",
      "Resolves a model URI as the loop does (MLflow registry, S3, local files) and returns a "
      "ResolvedModel: the local file, the registry version, how it was resolved. Raises "
      "inferloop.Error naming the URI and what to do.");
}

}  // namespace inferloop::python
