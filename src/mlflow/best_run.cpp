// MlflowClient::best_run(): which model an experiment's best run logged.
//
//   1. experiments/get-by-name -> the experiment id.
//   2. runs/search, FINISHED runs only, every page: each run's latest value
//      of the metric (data.metrics). Runs without it, or with NaN, are
//      skipped and counted; the rest are ranked by better_run(). The server's
//      order_by is not relied on: where it puts runs without the metric, NaN
//      and ties differs between backends, and the answer must not.
//   3. The best run's model: its model outputs (MLflow 3 logged models; each
//      one's name from logged-models/<id>), else the artifact paths in its
//      mlflow.log-model.history tag (MLflow 2). Exactly one is required: a
//      runs:/<run>/<name> URI then names it, and MlflowClient::resolve()
//      reads it back through the same logged-model lookup MLflow's own
//      client uses.
// Everything taken from the answers is checked before it is used: ids go
// into URIs only when they are plain ids, numbers through util/checked.hpp.
#include "mlflow/best_run.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>
#include <string_view>

#include "inferloop/error.hpp"
#include "util/checked.hpp"
#include "util/did_you_mean.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

// runs/search's largest page, and how many pages are read at most.
constexpr int kRunsPerPage = 1000;
constexpr int kMaxRunPages = 100;
// A run rarely logs more than a few models; a longer list is cut in messages.
constexpr std::size_t kMaxModelsListed = 10;
// How many of the metric names the runs do log a message lists.
constexpr std::size_t kMaxMetricNamesListed = 10;
// MLflow's own limit on metric names is 250 characters.
constexpr std::size_t kMaxMetricNameBytes = 250;

std::string goal_text(MetricGoal goal) { return goal == MetricGoal::kMinimize ? "min" : "max"; }

// A run or logged-model id as MLflow makes them (32 hex digits; "m-" and
// hex for logged models): letters, digits, '-' and '_', at most 64. Only
// such an id is put into a URI, a filter or a message unquoted.
bool plain_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
           return std::isalnum(c) != 0 || c == '-' || c == '_';
         });
}

std::string string_at(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

// start_time: MLflow writes int64s as JSON numbers; protobuf's JSON may
// write them as strings. Anything else ranks as 0 (earliest).
std::int64_t start_time_of(const nlohmann::json& info) {
  if (!info.is_object()) return 0;
  const auto found = info.find("start_time");
  if (found == info.end()) return 0;
  if (found->is_number_integer()) return found->get<std::int64_t>();
  if (found->is_number_unsigned()) {
    return found->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(found->get<std::uint64_t>());
  }
  if (found->is_string()) return to_integer(found->get_ref<const std::string&>()).value_or(0);
  return 0;
}

// The models a run logged, by name: "name" -> "model id" (MLflow 3) or ""
// (MLflow 2's history tag, which has no ids).
std::vector<std::pair<std::string, std::string>> run_models(const BestRunLookup& lookup, const nlohmann::json& run,
                                                            const std::string& experiment_name,
                                                            std::vector<std::string>& trace) {
  std::vector<std::pair<std::string, std::string>> models;
  const nlohmann::json outputs =
      run.is_object() ? run.value("outputs", nlohmann::json::object()) : nlohmann::json::object();
  std::set<std::string> ids;
  if (outputs.is_object() && outputs.contains("model_outputs") && outputs["model_outputs"].is_array()) {
    for (const nlohmann::json& output : outputs["model_outputs"]) {
      const std::string id = string_at(output, "model_id");
      if (!plain_id(id)) {
        throw Error("experiment " + quote(experiment_name) + ": a model output of the best run has model_id " +
                    quote(id) + ", which is not an MLflow id; is the tracking server MLflow 3?");
      }
      ids.insert(id);
    }
  }
  for (const std::string& id : ids) {
    if (models.size() > kMaxModelsListed) break;
    const Call call{experiment_name, "check the logged model: mlflow.get_logged_model(" + quote(id) + ")", &trace,
                    false, "experiment"};
    const nlohmann::json answer = lookup.rest.get_json(lookup.api + "logged-models/" + id, call);
    const nlohmann::json model = answer.is_object() ? answer.value("model", nlohmann::json::object())
                                                    : nlohmann::json::object();
    const std::string name =
        string_at(model.is_object() ? model.value("info", nlohmann::json::object()) : nlohmann::json(), "name");
    models.emplace_back(name, id);
  }
  if (!models.empty()) return models;

  // MLflow 2.x: log_model() records each artifact path in a tag.
  const nlohmann::json data = run.is_object() ? run.value("data", nlohmann::json::object()) : nlohmann::json::object();
  if (!data.is_object() || !data.contains("tags") || !data["tags"].is_array()) return models;
  for (const nlohmann::json& tag : data["tags"]) {
    if (string_at(tag, "key") != "mlflow.log-model.history") continue;
    const nlohmann::json history = nlohmann::json::parse(string_at(tag, "value"), nullptr, false);
    if (!history.is_array()) continue;
    std::set<std::string> paths;
    for (const nlohmann::json& entry : history) paths.insert(string_at(entry, "artifact_path"));
    for (const std::string& path : paths) models.emplace_back(path, "");
  }
  return models;
}

}  // namespace

bool better_run(const RankedRun& candidate, const RankedRun& best, MetricGoal goal) noexcept {
  if (candidate.value != best.value) {
    return goal == MetricGoal::kMinimize ? candidate.value < best.value : candidate.value > best.value;
  }
  if (candidate.start_time != best.start_time) return candidate.start_time < best.start_time;
  return candidate.run_id < best.run_id;
}

std::optional<double> metric_value(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  return to_real(text);
}

BestRun find_best_run(const BestRunLookup& lookup, const std::string& experiment_name, const std::string& metric,
                      MetricGoal goal) {
  if (experiment_name.empty()) {
    throw Error("best run: the experiment name is empty; name an experiment (mlflow experiments search lists them)");
  }
  if (metric.empty() || metric.size() > kMaxMetricNameBytes) {
    throw Error("best run of experiment " + quote(experiment_name) + ": expected a metric name of 1 to " +
                std::to_string(kMaxMetricNameBytes) + " characters, found " + quote(metric));
  }
  BestRun best;
  best.metric = metric;
  std::vector<std::string>& trace = best.resolution;

  const Call experiment_call{experiment_name,
                             "check the experiment's name: `mlflow experiments search` (or the MLflow UI) lists "
                             "them; names are case-sensitive",
                             &trace, false, "experiment"};
  const nlohmann::json found = lookup.rest.get_json(
      lookup.api + "experiments/get-by-name?" + lookup.rest.query({{"experiment_name", experiment_name}}),
      experiment_call);
  const nlohmann::json experiment =
      found.is_object() ? found.value("experiment", nlohmann::json::object()) : nlohmann::json::object();
  best.experiment_id = string_at(experiment, "experiment_id");
  if (!plain_id(best.experiment_id)) {
    throw Error("experiment " + quote(experiment_name) + ": experiments/get-by-name answered experiment_id " +
                quote(best.experiment_id) + ", which is not an MLflow id; is the tracking server MLflow?");
  }
  lookup.note(trace, "experiment " + quote(experiment_name) + " is id " + best.experiment_id);

  // Every finished run, ranked as it comes; the best one's JSON is kept.
  const Call runs_call{experiment_name, "", &trace, false, "experiment"};
  nlohmann::json request = {{"experiment_ids", nlohmann::json::array({best.experiment_id})},
                            {"filter", "attributes.status = 'FINISHED'"},
                            {"max_results", kRunsPerPage}};
  std::optional<RankedRun> leader;
  nlohmann::json leader_run;
  std::size_t finished = 0;
  std::size_t nan_values = 0;
  std::set<std::string> other_metrics;
  for (int page = 0;; ++page) {
    if (page == kMaxRunPages) {
      // Counted from what arrived: a server whose pages are short still stops here.
      throw Error("experiment " + quote(experiment_name) + ": the tracking server still offers more "
                  "finished runs after " + std::to_string(kMaxRunPages) + " pages (" +
                  std::to_string(finished) + " runs), more than a best-run lookup reads (" +
                  std::to_string(kMaxRunPages * kRunsPerPage) +
                  "); move old runs to another experiment or delete them");
    }
    const nlohmann::json answer = lookup.rest.post_json(lookup.api + "runs/search", request, runs_call);
    if (answer.is_object() && answer.contains("runs") && answer["runs"].is_array()) {
      for (const nlohmann::json& run : answer["runs"]) {
        if (!run.is_object()) continue;
        ++finished;
        const nlohmann::json info = run.value("info", nlohmann::json::object());
        const nlohmann::json data = run.value("data", nlohmann::json::object());
        const std::string run_id = string_at(info, "run_id");
        if (!plain_id(run_id)) {
          throw Error("experiment " + quote(experiment_name) + ": runs/search answered run_id " + quote(run_id) +
                      ", which is not an MLflow run id; is the tracking server MLflow?");
        }
        std::optional<double> value;
        const nlohmann::json metrics = data.is_object() ? data.value("metrics", nlohmann::json::array())
                                                        : nlohmann::json::array();
        for (const nlohmann::json& entry : metrics.is_array() ? metrics : nlohmann::json::array()) {
          const std::string key = string_at(entry, "key");
          if (key != metric) {
            if (other_metrics.size() < 1000) other_metrics.insert(key);
            continue;
          }
          value = metric_value(entry.is_object() ? entry.value("value", nlohmann::json()) : nlohmann::json());
          if (!value) {
            throw Error("experiment " + quote(experiment_name) + ": run " + run_id + " has metric " + quote(metric) +
                        " with a value that is not a number; is the tracking server MLflow?");
          }
        }
        if (!value || std::isnan(*value)) {
          if (value) ++nan_values;
          ++best.runs_skipped;
          continue;
        }
        ++best.runs_ranked;
        const RankedRun candidate{run_id, *value, start_time_of(info)};
        if (!leader || better_run(candidate, *leader, goal)) {
          leader = candidate;
          leader_run = run;
        }
      }
    }
    const std::string token = answer.is_object() ? string_at(answer, "next_page_token") : "";
    if (token.empty()) break;
    if (request.contains("page_token") && request["page_token"] == token) {
      throw Error("experiment " + quote(experiment_name) + ": the tracking server returned the same "
                  "runs/search page_token twice, so its pages never end; check the server (it is not "
                  "MLflow's behaviour)");
    }
    request["page_token"] = token;
  }
  lookup.note(trace, std::to_string(finished) + " finished runs: " + std::to_string(best.runs_ranked) +
                         " ranked by " + metric + " (" + goal_text(goal) + "), " +
                         std::to_string(best.runs_skipped) + " skipped (no value" +
                         (nan_values > 0 ? ", or NaN" : "") + ")");

  if (!leader) {
    std::string message = "experiment " + quote(experiment_name) + " (id " + best.experiment_id + ") has ";
    if (finished == 0) {
      message += "no finished runs; finish a run (mlflow.end_run(), or leave the `with mlflow.start_run()` block) "
                 "that logs " + quote(metric) + " and a model";
    } else {
      message += "no finished run with a value for metric " + quote(metric) + " (" + std::to_string(finished) +
                 " finished runs: " + std::to_string(finished - nan_values) + " without it, " +
                 std::to_string(nan_values) + " with NaN)";
      const std::vector<std::string_view> names(other_metrics.begin(), other_metrics.end());
      if (const auto suggestion = closest(metric, names)) {
        message += "; did you mean " + quote(*suggestion) + "?";
      } else if (!names.empty()) {
        message += "; its runs log ";
        for (std::size_t i = 0; i < names.size() && i < kMaxMetricNamesListed; ++i) {
          message += (i == 0 ? "" : ", ") + quote(names[i]);
        }
        if (names.size() > kMaxMetricNamesListed) message += ", ...";
      } else {
        message += "; log it in the run: mlflow.log_metric(" + quote(metric) + ", value)";
      }
    }
    throw Error(message);
  }
  best.run_id = leader->run_id;
  best.metric_value = leader->value;
  lookup.note(trace, "best run " + best.run_id + ": " + metric + " = " + number_text(best.metric_value));

  const std::vector<std::pair<std::string, std::string>> models =
      run_models(lookup, leader_run, experiment_name, trace);
  const std::string run_text = "run " + best.run_id + " of experiment " + quote(experiment_name) + " (best by " +
                               metric + " = " + number_text(best.metric_value) + ")";
  if (models.empty()) {
    throw Error(run_text + " logged no model (no model outputs, no mlflow.log-model.history tag); log one in "
                "that run (mlflow.lightgbm.log_model(booster, name=\"model\")), or name its artifact path "
                "yourself: runs:/" + best.run_id + "/<path>");
  }
  if (models.size() > 1) {
    std::string listed;
    for (std::size_t i = 0; i < models.size() && i < kMaxModelsListed; ++i) {
      listed += (i == 0 ? "" : ", ") + quote(models[i].first) +
                (models[i].second.empty() ? "" : " (" + models[i].second + ")");
    }
    if (models.size() > kMaxModelsListed) listed += ", ...";
    throw Error(run_text + " logged " + (models.size() > kMaxModelsListed ? "more than " : "") +
                std::to_string(std::min(models.size(), kMaxModelsListed)) + " models: " + listed +
                "; inferloop cannot tell which one to serve: pin one yourself, runs:/" + best.run_id + "/<name>, " +
                "or models:/<model id>");
  }
  const std::string& name = models.front().first;
  best.model_uri = "runs:/" + best.run_id + "/" + name;
  // The name goes into a URI and, on resolve, into a search filter in
  // quotes: it must parse as the artifact path of a runs:/ URI and hold no quote.
  bool usable = !name.empty() && name.find('\'') == std::string::npos;
  if (usable) {
    try {
      usable = parse_model_uri(best.model_uri).path == name;
    } catch (const Error&) {
      usable = false;
    }
  }
  if (!usable) {
    throw Error(run_text + " logged its model under the name " + quote(name) +
                ", which inferloop cannot put in a runs:/ URI; log it again under a plain name "
                "(name=\"model\"), or pin models:/" + (models.front().second.empty() ? "<model id>" : models.front().second));
  }
  lookup.note(trace, "model of run " + best.run_id + ": " + quote(name) +
                         (models.front().second.empty() ? "" : " (logged model " + models.front().second + ")"));
  return best;
}

}  // namespace inferloop::detail
