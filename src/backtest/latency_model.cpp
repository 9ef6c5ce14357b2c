// LatencyModel and LatencySampler: see include/inferloop/backtest.hpp.
//
// Bounds: every latency a model can give is in [0, kMaxLatency] (a day):
// constant and replayed latencies are checked when the model is built, and
// a lognormal draw above it is capped (its parameters are bounded too, so
// the draw itself is always finite). The simulator adds latencies to
// timestamps; with this bound it can refuse, up front, a snapshot whose
// result could land past the largest Timestamp (ReplicaSimulator::arrive).
// Numbers in specs and results files are read with the checked helpers,
// and messages quote input with detail::quote.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>
#include <string>
#include <utility>

#include "inferloop/backtest.hpp"
#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

constexpr const char* kSpecExamples =
    "valid latency specs: zero, constant:50us, lognormal:40us,15us (mean and standard "
    "deviation of the latency), replay:results.csv (a file written by `inferloop run "
    "--results`); units: ns, us, ms, s";

using detail::duration_text;
using detail::quote;

[[noreturn]] void bad_spec(std::string_view spec, const std::string& why) {
  throw Error("invalid latency spec " + quote(spec) + ": " + why + "; " + kSpecExamples);
}

Timestamp spec_duration(std::string_view spec, std::string_view what, std::string_view text) {
  try {
    return parse_duration(text);
  } catch (const Error& e) {
    bad_spec(spec, std::string(what) + ": " + e.what());
  }
}

std::vector<std::string_view> split_commas(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    cells.push_back(line.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

// A uniform double in (0, 1] from the top 53 bits of one engine draw: never 0,
// so log() in Box-Muller is finite.
double unit_interval(std::mt19937_64& engine) {
  return (static_cast<double>(engine() >> 11) + 1.0) * 0x1.0p-53;
}

}  // namespace

LatencyModel LatencyModel::zero() { return LatencyModel{}; }

LatencyModel LatencyModel::constant(Timestamp latency) {
  if (latency.count() < 0 || latency > kMaxLatency) {
    throw Error("LatencyModel::constant: latency " + duration_text(latency) +
                " is outside [0s, " + duration_text(kMaxLatency) + "]; a latency is a duration "
                "from 0 to a day");
  }
  LatencyModel model;
  model.kind_ = latency.count() == 0 ? Kind::kZero : Kind::kConstant;
  model.constant_ = latency;
  return model;
}

LatencyModel LatencyModel::lognormal(Timestamp mean, Timestamp stddev) {
  if (mean.count() <= 0 || stddev.count() < 0 || mean > kMaxLatency || stddev > kMaxLatency) {
    throw Error("LatencyModel::lognormal: needs 0 < mean <= " + duration_text(kMaxLatency) +
                " and 0 <= stddev <= " + duration_text(kMaxLatency) + ", got mean " +
                duration_text(mean) + ", stddev " + duration_text(stddev) +
                "; e.g. lognormal:40us,15us");
  }
  LatencyModel model;
  model.kind_ = Kind::kLogNormal;
  model.mean_ = mean;
  model.stddev_ = stddev;
  // For log(L) ~ N(mu, sigma^2): E[L] = exp(mu + sigma^2/2) and
  // Var[L] = (exp(sigma^2) - 1) E[L]^2, solved for mu and sigma.
  const double m = static_cast<double>(mean.count());
  const double s = static_cast<double>(stddev.count());
  const double sigma2 = std::log1p((s * s) / (m * m));
  model.sigma_ = std::sqrt(sigma2);
  model.mu_ = std::log(m) - sigma2 / 2.0;
  return model;
}

LatencyModel LatencyModel::replay(std::vector<Timestamp> latencies, std::string source) {
  if (latencies.empty()) {
    throw Error("latency replay from " + source + ": no latencies to replay; record a run with "
                "`inferloop run CONFIG --features CSV --results FILE` and replay FILE");
  }
  for (std::size_t i = 0; i < latencies.size(); ++i) {
    if (latencies[i].count() < 0 || latencies[i] > kMaxLatency) {
      throw Error("latency replay from " + source + ": latency " + std::to_string(i + 1) + " (" +
                  duration_text(latencies[i]) + ") is outside [0s, " + duration_text(kMaxLatency) +
                  "]");
    }
  }
  LatencyModel model;
  model.kind_ = Kind::kReplay;
  model.replay_ = std::move(latencies);
  model.source_ = std::move(source);
  return model;
}

LatencyModel LatencyModel::replay_file(const std::filesystem::path& results_csv) {
  const std::string name = results_csv.string();
  std::ifstream in(results_csv, std::ios::binary);
  if (!in) {
    throw Error(name + ": cannot open the latency recording: " + std::strerror(errno) +
                "; replay:FILE takes a results file written by `inferloop run --results`");
  }
  std::string line;
  std::size_t line_number = 0;
  std::size_t seq_column = 0, started_column = 0, completed_column = 0, width = 0;
  bool have_header = false;
  std::vector<Timestamp> latencies;
  std::string previous_seq;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::vector<std::string_view> cells = split_commas(line);
    if (!have_header) {
      auto find = [&](std::string_view column) -> std::size_t {
        for (std::size_t c = 0; c < cells.size(); ++c) {
          if (cells[c] == column) return c;
        }
        throw Error(name + ":" + std::to_string(line_number) + ": the header has no '" +
                    std::string(column) +
                    "' column; replay:FILE takes a results file written by `inferloop run "
                    "--results` (columns feature_seq, started_at_ns, completed_at_ns, ...)");
      };
      seq_column = find("feature_seq");
      started_column = find("started_at_ns");
      completed_column = find("completed_at_ns");
      width = cells.size();
      have_header = true;
      continue;
    }
    if (cells.size() != width) {
      throw Error(name + ":" + std::to_string(line_number) + ": has " +
                  std::to_string(cells.size()) + " columns, but the header has " +
                  std::to_string(width));
    }
    // The rows of one multi-row result repeat its feature_seq: one latency each.
    if (cells[seq_column] == previous_seq) continue;
    previous_seq = std::string(cells[seq_column]);
    const std::string where = name + ":" + std::to_string(line_number);
    auto integer = [&](std::size_t column, std::string_view what) {
      return detail::parse_integer<std::int64_t>(
          cells[column], where + ": column " + std::to_string(column + 1) + " ('" +
                             std::string(what) + "')");
    };
    const std::int64_t started = integer(started_column, "started_at_ns");
    const std::int64_t completed = integer(completed_column, "completed_at_ns");
    if (completed < started) {
      throw Error(where + ": completed_at_ns " + std::to_string(completed) +
                  " is before started_at_ns " + std::to_string(started) +
                  "; the file is not a valid results file");
    }
    // completed >= started, but the difference may still overflow.
    std::int64_t latency = 0;
    if (__builtin_sub_overflow(completed, started, &latency) || latency > kMaxLatency.count()) {
      throw Error(where + ": completed_at_ns " + std::to_string(completed) + " - started_at_ns " +
                  std::to_string(started) + " is longer than " + duration_text(kMaxLatency) +
                  ", the longest latency a backtest replays; the file is not a valid results "
                  "file");
    }
    latencies.emplace_back(latency);
  }
  if (!have_header) {
    throw Error(name + ": is empty; replay:FILE takes a results file written by `inferloop run "
                "--results`");
  }
  return replay(std::move(latencies), name);
}

LatencyModel LatencyModel::parse(std::string_view spec) {
  const std::size_t colon = spec.find(':');
  const std::string_view name = spec.substr(0, colon);
  const std::string_view argument =
      colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1);
  if (name == "zero") {
    if (colon != std::string_view::npos) bad_spec(spec, "'zero' takes no argument");
    return zero();
  }
  if (colon == std::string_view::npos || argument.empty()) {
    if (name == "constant" || name == "lognormal" || name == "replay") {
      bad_spec(spec, quote(name) + " needs an argument after ':'");
    }
    bad_spec(spec, "unknown latency model " + quote(name));
  }
  if (name == "constant") {
    const Timestamp latency = spec_duration(spec, "constant latency", argument);
    if (latency > kMaxLatency) {
      bad_spec(spec, "the latency must be at most " + duration_text(kMaxLatency));
    }
    return constant(latency);
  }
  if (name == "lognormal") {
    const std::size_t comma = argument.find(',');
    if (comma == std::string_view::npos) {
      bad_spec(spec, "'lognormal' needs MEAN,STDDEV (two durations separated by a comma)");
    }
    const Timestamp mean = spec_duration(spec, "lognormal mean", argument.substr(0, comma));
    const Timestamp stddev = spec_duration(spec, "lognormal stddev", argument.substr(comma + 1));
    if (mean.count() <= 0) bad_spec(spec, "the lognormal mean must be above 0");
    if (mean > kMaxLatency || stddev > kMaxLatency) {
      bad_spec(spec, "the lognormal mean and stddev must each be at most " +
                         duration_text(kMaxLatency));
    }
    return lognormal(mean, stddev);
  }
  if (name == "replay") return replay_file(std::filesystem::path(std::string(argument)));
  bad_spec(spec, "unknown latency model " + quote(name));
}

std::string LatencyModel::describe() const {
  switch (kind_) {
    case Kind::kZero:
      return "zero";
    case Kind::kConstant:
      return "constant:" + duration_text(constant_);
    case Kind::kLogNormal:
      return "lognormal:" + duration_text(mean_) + "," + duration_text(stddev_);
    case Kind::kReplay:
      return "replay:" + source_ + " (" + std::to_string(replay_.size()) + " latencies, cycled)";
  }
  return "unknown";
}

Timestamp LatencyModel::max_latency() const noexcept {
  switch (kind_) {
    case Kind::kZero:
      return Timestamp{0};
    case Kind::kConstant:
      return constant_;
    case Kind::kLogNormal:
      return kMaxLatency;
    case Kind::kReplay:
      return *std::max_element(replay_.begin(), replay_.end());
  }
  return kMaxLatency;
}

LatencySampler LatencyModel::sampler(std::uint64_t seed) const { return {*this, seed}; }

LatencySampler::LatencySampler(const LatencyModel& model, std::uint64_t seed)
    : model_(model),
      max_latency_(model_.max_latency()),
      fixed_(model_.kind_ == LatencyModel::Kind::kZero || model_.kind_ == LatencyModel::Kind::kConstant),
      fixed_latency_(model_.kind_ == LatencyModel::Kind::kConstant ? model_.constant_ : Timestamp{0}),
      engine_(seed) {}

Timestamp LatencySampler::draw() {
  const std::uint64_t k = index_++;
  switch (model_.kind_) {
    case LatencyModel::Kind::kZero:
      return Timestamp{0};
    case LatencyModel::Kind::kConstant:
      return model_.constant_;
    case LatencyModel::Kind::kReplay:
      return model_.replay_[k % model_.replay_.size()];
    case LatencyModel::Kind::kLogNormal: {
      // Box-Muller, one normal per draw (the second is discarded, so the
      // k-th latency always uses engine draws 2k and 2k+1).
      const double u1 = unit_interval(engine_);
      const double u2 = unit_interval(engine_);
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
      const double latency_ns = std::exp(model_.mu_ + model_.sigma_ * z);
      // The saturation rule (docs/backtesting.md): a draw beyond kMaxLatency
      // is kMaxLatency. mu and sigma are finite for bounded parameters, so
      // the draw is finite or +inf, never NaN; min() handles both.
      const double capped = std::min(latency_ns, static_cast<double>(LatencyModel::kMaxLatency.count()));
      return Timestamp{static_cast<std::int64_t>(std::llround(capped))};
    }
  }
  return Timestamp{0};
}

}  // namespace inferloop
