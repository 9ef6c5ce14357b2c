// LatencyModel and LatencySampler: see include/inferloop/backtest.hpp.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>
#include <string>
#include <utility>

#include "inferloop/backtest.hpp"
#include "inferloop/config.hpp"
#include "inferloop/error.hpp"

namespace inferloop {
namespace {

constexpr const char* kSpecExamples =
    "valid latency specs: zero, constant:50us, lognormal:40us,15us (mean and standard "
    "deviation of the latency), replay:results.csv (a file written by `inferloop run "
    "--results`); units: ns, us, ms, s";

[[noreturn]] void bad_spec(std::string_view spec, const std::string& why) {
  throw Error("invalid latency spec '" + std::string(spec) + "': " + why + "; " + kSpecExamples);
}

Timestamp spec_duration(std::string_view spec, std::string_view what, std::string_view text) {
  try {
    return parse_duration(text);
  } catch (const Error& e) {
    bad_spec(spec, std::string(what) + ": " + e.what());
  }
}

std::string text_of(Timestamp d) {
  const auto ns = d.count();
  if (ns != 0 && ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  if (ns != 0 && ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  if (ns != 0 && ns % 1'000 == 0) return std::to_string(ns / 1'000) + "us";
  return std::to_string(ns) + "ns";
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
  if (latency.count() < 0) {
    throw Error("LatencyModel::constant: latency " + std::to_string(latency.count()) +
                "ns is negative; a latency is a duration >= 0");
  }
  LatencyModel model;
  model.kind_ = latency.count() == 0 ? Kind::kZero : Kind::kConstant;
  model.constant_ = latency;
  return model;
}

LatencyModel LatencyModel::lognormal(Timestamp mean, Timestamp stddev) {
  if (mean.count() <= 0 || stddev.count() < 0) {
    throw Error("LatencyModel::lognormal: needs mean > 0 and stddev >= 0, got mean " +
                text_of(mean) + ", stddev " + text_of(stddev) + "; e.g. lognormal:40us,15us");
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
    if (latencies[i].count() < 0) {
      throw Error("latency replay from " + source + ": latency " + std::to_string(i + 1) +
                  " is negative (" + std::to_string(latencies[i].count()) + "ns)");
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
    auto integer = [&](std::size_t column, std::string_view what) {
      const std::string_view cell = cells[column];
      std::int64_t value = 0;
      const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
      if (ec != std::errc{} || end != cell.data() + cell.size()) {
        throw Error(name + ":" + std::to_string(line_number) + ": column " +
                    std::to_string(column + 1) + " ('" + std::string(what) +
                    "'): expected integer nanoseconds, found '" + std::string(cell) + "'");
      }
      return value;
    };
    const std::int64_t started = integer(started_column, "started_at_ns");
    const std::int64_t completed = integer(completed_column, "completed_at_ns");
    if (completed < started) {
      throw Error(name + ":" + std::to_string(line_number) + ": completed_at_ns " +
                  std::to_string(completed) + " is before started_at_ns " +
                  std::to_string(started) + "; the file is not a valid results file");
    }
    latencies.emplace_back(completed - started);
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
      bad_spec(spec, "'" + std::string(name) + "' needs an argument after ':'");
    }
    bad_spec(spec, "unknown latency model '" + std::string(name) + "'");
  }
  if (name == "constant") return constant(spec_duration(spec, "constant latency", argument));
  if (name == "lognormal") {
    const std::size_t comma = argument.find(',');
    if (comma == std::string_view::npos) {
      bad_spec(spec, "'lognormal' needs MEAN,STDDEV (two durations separated by a comma)");
    }
    const Timestamp mean = spec_duration(spec, "lognormal mean", argument.substr(0, comma));
    const Timestamp stddev = spec_duration(spec, "lognormal stddev", argument.substr(comma + 1));
    if (mean.count() <= 0) bad_spec(spec, "the lognormal mean must be above 0");
    return lognormal(mean, stddev);
  }
  if (name == "replay") return replay_file(std::filesystem::path(std::string(argument)));
  bad_spec(spec, "unknown latency model '" + std::string(name) + "'");
}

std::string LatencyModel::describe() const {
  switch (kind_) {
    case Kind::kZero:
      return "zero";
    case Kind::kConstant:
      return "constant:" + text_of(constant_);
    case Kind::kLogNormal:
      return "lognormal:" + text_of(mean_) + "," + text_of(stddev_);
    case Kind::kReplay:
      return "replay:" + source_ + " (" + std::to_string(replay_.size()) + " latencies, cycled)";
  }
  return "unknown";
}

LatencySampler LatencyModel::sampler(std::uint64_t seed) const { return {*this, seed}; }

LatencySampler::LatencySampler(const LatencyModel& model, std::uint64_t seed)
    : model_(model), engine_(seed) {}

Timestamp LatencySampler::next() {
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
      // Clamp far below int64's range: a latency of 100 days is already absurd.
      constexpr double kMaxNs = 8.64e15;
      return Timestamp{static_cast<std::int64_t>(std::llround(std::min(latency_ns, kMaxNs)))};
    }
  }
  return Timestamp{0};
}

}  // namespace inferloop
