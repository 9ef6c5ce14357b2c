// Result, LoopStats, LatencySummary, LoopError, ModelInfo, ResolvedModel and
// ReloadOutcome for Python (see results.hpp). All read-only: they are
// snapshots, and changing one would change nothing in the loop.
#include "results.hpp"

#include <string>

#include "bindings.hpp"
#include "inferloop/inference_loop.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/stats.hpp"

namespace inferloop::python {

Result Result::from(const Prediction& prediction) {
  Result result;
  const auto values = prediction.values();
  result.values.assign(values.begin(), values.end());
  result.rows = prediction.rows;
  result.cols = prediction.cols;
  result.feature_seq = prediction.feature_seq;
  result.feature_time_ns = prediction.feature_time.count();
  result.published_at_ns = prediction.published_at.count();
  result.started_at_ns = prediction.started_at.count();
  result.completed_at_ns = prediction.completed_at.count();
  result.model_version = prediction.model_version;
  result.replica_id = prediction.replica_id;
  return result;
}

namespace {

using ValuesArray = nb::ndarray<nb::numpy, const float, nb::ndim<2>>;

void bind_result(nb::module_& module) {
  nb::class_<Result>(module, "Result",
                     "One prediction of the loop: the values for one feature snapshot, which "
                     "snapshot (feature_seq), which model made it and when (nanoseconds of the "
                     "loop's clock).")
      .def_prop_ro(
          "values",
          [](const Result& result) {
            return ValuesArray(result.values.data(), {result.rows, result.cols}, nb::handle());
          },
          nb::rv_policy::reference_internal,
          "float32 array, rows x outputs (read-only; one row per row of the snapshot).")
      .def_prop_ro(
          "value",
          [](const Result& result) { return result.values.empty() ? 0.0F : result.values.front(); },
          "The first value (row 0, output 0): the prediction of a one-row, one-output model.")
      .def_ro("rows", &Result::rows)
      .def_ro("cols", &Result::cols, "Outputs per row.")
      .def_ro("feature_seq", &Result::feature_seq,
              "The snapshot predicted: what publish() returned for it.")
      .def_ro("feature_time_ns", &Result::feature_time_ns, "The snapshot's feature_time.")
      .def_ro("published_at_ns", &Result::published_at_ns, "Loop clock time of its publish().")
      .def_ro("started_at_ns", &Result::started_at_ns, "When a replica started predicting it.")
      .def_ro("completed_at_ns", &Result::completed_at_ns,
              "When the result became visible (in a backtest: the simulated visibility time).")
      .def_ro("model_version", &Result::model_version,
              "1 for the model start() loaded, +1 per live reload.")
      .def_ro("replica_id", &Result::replica_id)
      .def("__repr__", [](const Result& result) {
        return "Result(feature_seq=" + std::to_string(result.feature_seq) +
               ", value=" + std::to_string(result.values.empty() ? 0.0F : result.values.front()) +
               ", rows=" + std::to_string(result.rows) + ", cols=" + std::to_string(result.cols) +
               ", model_version=" + std::to_string(result.model_version) +
               ", replica_id=" + std::to_string(result.replica_id) + ")";
      });
}

void bind_stats(nb::module_& module) {
  nb::class_<LatencySummary>(module, "LatencySummary",
                             "Latency percentiles in nanoseconds (each within about 3% of the "
                             "exact sample percentile).")
      .def_ro("count", &LatencySummary::count)
      .def_prop_ro("p50_ns", [](const LatencySummary& s) { return s.p50.count(); })
      .def_prop_ro("p90_ns", [](const LatencySummary& s) { return s.p90.count(); })
      .def_prop_ro("p99_ns", [](const LatencySummary& s) { return s.p99.count(); })
      .def_prop_ro("p999_ns", [](const LatencySummary& s) { return s.p999.count(); })
      .def_prop_ro("max_ns", [](const LatencySummary& s) { return s.max.count(); })
      .def("__repr__", [](const LatencySummary& s) {
        return "LatencySummary(count=" + std::to_string(s.count) +
               ", p50_ns=" + std::to_string(s.p50.count()) +
               ", p99_ns=" + std::to_string(s.p99.count()) +
               ", max_ns=" + std::to_string(s.max.count()) + ")";
      });

  nb::class_<LoopStats> stats(module, "LoopStats",
                              "Counters and latencies of a loop (see docs/design.md). Once the "
                              "loop is stopped: snapshots_published == dispatched + conflated + "
                              "discarded_at_stop, and dispatched == predictions + errors.");
  stats.def_ro("snapshots_published", &LoopStats::snapshots_published)
      .def_ro("snapshots_rejected", &LoopStats::snapshots_rejected)
      .def_ro("dispatched", &LoopStats::dispatched)
      .def_ro("conflated", &LoopStats::conflated)
      .def_ro("discarded_at_stop", &LoopStats::discarded_at_stop)
      .def_ro("predictions", &LoopStats::predictions)
      .def_ro("errors", &LoopStats::errors)
      .def_ro("source_errors", &LoopStats::source_errors)
      .def_ro("stale_results", &LoopStats::stale_results)
      .def_ro("history_dropped", &LoopStats::history_dropped)
      .def_ro("in_flight", &LoopStats::in_flight)
      .def_ro("model_swaps", &LoopStats::model_swaps)
      .def_ro("model_reload_failures", &LoopStats::model_reload_failures)
      .def_ro("queue_wait", &LoopStats::queue_wait, "published -> a replica starts it")
      .def_ro("predict", &LoopStats::predict, "the predictor call alone")
      .def_ro("publish_to_visible", &LoopStats::publish_to_visible,
              "published -> readable by latest()")
      .def("to_dict", [](const LoopStats& s) {
        nb::dict counters;
        counters["snapshots_published"] = s.snapshots_published;
        counters["snapshots_rejected"] = s.snapshots_rejected;
        counters["dispatched"] = s.dispatched;
        counters["conflated"] = s.conflated;
        counters["discarded_at_stop"] = s.discarded_at_stop;
        counters["predictions"] = s.predictions;
        counters["errors"] = s.errors;
        counters["source_errors"] = s.source_errors;
        counters["stale_results"] = s.stale_results;
        counters["history_dropped"] = s.history_dropped;
        counters["in_flight"] = s.in_flight;
        counters["model_swaps"] = s.model_swaps;
        counters["model_reload_failures"] = s.model_reload_failures;
        for (const auto& [name, summary] : {std::pair{"queue_wait", &s.queue_wait},
                                            std::pair{"predict", &s.predict},
                                            std::pair{"publish_to_visible", &s.publish_to_visible}}) {
          const std::string prefix(name);
          counters[(prefix + "_count").c_str()] = summary->count;
          counters[(prefix + "_p50_ns").c_str()] = summary->p50.count();
          counters[(prefix + "_p99_ns").c_str()] = summary->p99.count();
          counters[(prefix + "_max_ns").c_str()] = summary->max.count();
        }
        return counters;
      }, "The counters, and count/p50/p99/max of each latency, as one flat dict.")
      .def("__repr__", [](const LoopStats& s) {
        return "LoopStats(snapshots_published=" + std::to_string(s.snapshots_published) +
               ", dispatched=" + std::to_string(s.dispatched) +
               ", conflated=" + std::to_string(s.conflated) +
               ", predictions=" + std::to_string(s.predictions) +
               ", errors=" + std::to_string(s.errors) +
               ", stale_results=" + std::to_string(s.stale_results) + ", ...)";
      });
}

void bind_models(nb::module_& module) {
  nb::class_<LoopError>(module, "LoopError",
                        "An error the loop reported while serving: a prediction or a callback "
                        "that failed, a reload that failed.")
      .def_ro("message", &LoopError::message)
      .def_ro("feature_seq", &LoopError::feature_seq, "The snapshot being predicted (0: none).")
      .def_ro("replica_id", &LoopError::replica_id)
      .def_prop_ro("at_ns", [](const LoopError& error) { return error.at.count(); },
                   "Loop clock time of the error.")
      .def("__repr__", [](const LoopError& error) {
        return "LoopError(feature_seq=" + std::to_string(error.feature_seq) + ", message=" +
               nb::cast<std::string>(nb::repr(nb::str(error.message.c_str()))) + ")";
      });

  nb::class_<ResolvedModel>(module, "ResolvedModel",
                            "Where a model URI led: the local model file, and for MLflow URIs "
                            "the registry version, artifact URI and cache copy.")
      .def_ro("uri", &ResolvedModel::uri)
      .def_ro("model_file", &ResolvedModel::model_file)
      .def_prop_ro("format", [](const ResolvedModel& model) { return to_string(model.format); })
      .def_ro("saved_by_version", &ResolvedModel::saved_by_version,
              "The xgboost version that saved the model, [major, minor, patch].")
      .def_ro("registry_name", &ResolvedModel::registry_name)
      .def_ro("registry_version", &ResolvedModel::registry_version)
      .def_ro("artifact_uri", &ResolvedModel::artifact_uri)
      .def_ro("cache_path", &ResolvedModel::cache_path)
      .def_ro("from_cache", &ResolvedModel::from_cache)
      .def_prop_ro(
          "signature_inputs",
          [](const ResolvedModel& model) {
            std::vector<std::pair<std::string, std::string>> columns;
            for (const SignatureColumn& column : model.signature_inputs) {
              columns.emplace_back(column.name, column.type);
            }
            return columns;
          },
          "(name, type) of each column of the MLmodel signature; empty without one.")
      .def_ro("resolution", &ResolvedModel::resolution,
              "How it was resolved: one line per REST call or cache decision.")
      .def("__repr__", [](const ResolvedModel& model) {
        return "ResolvedModel(uri='" + model.uri + "', model_file='" + model.model_file.string() +
               "', registry_version='" + model.registry_version + "')";
      });

  nb::class_<ModelInfo>(module, "ModelInfo", "The model a running loop serves.")
      .def_ro("model_version", &ModelInfo::model_version,
              "The loop's model_version: 1 for the model start() loaded, +1 per swap.")
      .def_ro("model", &ModelInfo::model, "Where it came from (ResolvedModel).")
      .def_ro("predictor", &ModelInfo::predictor, "The predictor's description.")
      .def_ro("num_features", &ModelInfo::num_features)
      .def_ro("num_outputs", &ModelInfo::num_outputs)
      .def("__repr__", [](const ModelInfo& info) {
        return "ModelInfo(model_version=" + std::to_string(info.model_version) + ", predictor='" +
               info.predictor + "', num_features=" + std::to_string(info.num_features) +
               ", num_outputs=" + std::to_string(info.num_outputs) + ")";
      });

  using ReloadOutcome = InferenceLoop::ReloadOutcome;
  nb::class_<ReloadOutcome>(module, "ReloadOutcome", "What InferenceLoop.reload() did.")
      .def_ro("swapped", &ReloadOutcome::swapped, "A new model now serves new snapshots.")
      .def_ro("model_version", &ReloadOutcome::model_version)
      .def_ro("registry_version", &ReloadOutcome::registry_version)
      .def_ro("detail", &ReloadOutcome::detail, "\"registry version 1 -> 2\", or why nothing changed.")
      .def("__repr__", [](const ReloadOutcome& outcome) {
        return std::string("ReloadOutcome(swapped=") + (outcome.swapped ? "True" : "False") +
               ", model_version=" + std::to_string(outcome.model_version) + ", detail='" +
               outcome.detail + "')";
      });
}

}  // namespace

void bind_results(nb::module_& module) {
  bind_result(module);
  bind_stats(module);
  bind_models(module);
}

}  // namespace inferloop::python
