// Reads the Prometheus text exposition format back: see exposition.hpp.
#include "exposition.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "util/checked.hpp"

namespace inferloop::testing {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':';
}

// `name{label="value",...} value` with \\, \" and \n escapes in values.
bool read_sample(const std::string& line, Sample& out) {
  std::size_t at = 0;
  while (at < line.size() && is_name_char(line[at])) ++at;
  if (at == 0) return false;
  out.name = line.substr(0, at);
  if (at < line.size() && line[at] == '{') {
    ++at;
    while (at < line.size() && line[at] != '}') {
      const std::size_t name_start = at;
      while (at < line.size() && is_name_char(line[at])) ++at;
      const std::string label = line.substr(name_start, at - name_start);
      if (label.empty() || line.compare(at, 2, "=\"") != 0) return false;
      at += 2;
      std::string value;
      for (; at < line.size() && line[at] != '"'; ++at) {
        if (line[at] != '\\') {
          value += line[at];
          continue;
        }
        if (++at == line.size()) return false;
        if (line[at] == 'n') {
          value += '\n';
        } else if (line[at] == '\\' || line[at] == '"') {
          value += line[at];
        } else {
          return false;
        }
      }
      if (at == line.size()) return false;
      ++at;  // closing quote
      if (!out.labels.emplace(label, value).second) return false;  // a label twice
      if (at < line.size() && line[at] == ',') ++at;
    }
    if (at == line.size()) return false;
    ++at;  // '}'
  }
  if (at >= line.size() || line[at] != ' ') return false;
  const std::string value = line.substr(at + 1);
  if (value == "+Inf") {
    out.value = INFINITY;
  } else if (value == "Nan") {
    out.value = NAN;
  } else {
    const std::optional<double> number = detail::to_real(value);
    if (!number) return false;
    out.value = *number;
  }
  return true;
}

}  // namespace

std::vector<Sample> Exposition::find(const std::string& name,
                                     const std::map<std::string, std::string>& labels) const {
  std::vector<Sample> found;
  for (const Sample& sample : samples) {
    if (sample.name != name) continue;
    bool matches = true;
    for (const auto& [label, value] : labels) {
      const auto it = sample.labels.find(label);
      matches = matches && it != sample.labels.end() && it->second == value;
    }
    if (matches) found.push_back(sample);
  }
  return found;
}

double Exposition::sum(const std::string& name, const std::map<std::string, std::string>& labels) const {
  const std::vector<Sample> found = find(name, labels);
  EXPECT_FALSE(found.empty()) << "no sample " << name;
  double total = 0;
  for (const Sample& sample : found) total += sample.value;
  return total;
}

Exposition parse_exposition(const std::string& text) {
  Exposition out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    for (const char* keyword : {"# HELP ", "# TYPE "}) {
      if (line.rfind(keyword, 0) != 0) continue;
      const std::string rest = line.substr(7);
      const std::size_t space = rest.find(' ');
      auto& table = keyword[2] == 'H' ? out.help : out.type;
      if (space == std::string::npos || !table.emplace(rest.substr(0, space), rest.substr(space + 1)).second) {
        out.problems.push_back(line);
      }
    }
    if (line.front() == '#') continue;
    Sample sample;
    if (read_sample(line, sample)) {
      out.samples.push_back(std::move(sample));
    } else {
      out.problems.push_back(line);
    }
  }
  return out;
}

}  // namespace inferloop::testing
