// Reads the Prometheus text exposition format back, for tests to assert on
// what a scraper would see: each sample's name, labels and value, and each
// family's HELP and TYPE lines. Strict: a line it cannot read fails the test
// (through `problems`), so a malformed exposition never passes unnoticed.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace inferloop::testing {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> help;  // family -> text
  std::map<std::string, std::string> type;  // family -> counter, gauge, histogram, ...
  std::vector<Sample> samples;              // in the order written
  std::vector<std::string> problems;        // lines that could not be read

  // The samples called `name` whose labels include every one of `labels`.
  [[nodiscard]] std::vector<Sample> find(const std::string& name,
                                         const std::map<std::string, std::string>& labels = {}) const;
  // The sum of their values (the test fails if there is none: see find()).
  [[nodiscard]] double sum(const std::string& name,
                           const std::map<std::string, std::string>& labels = {}) const;
};

[[nodiscard]] Exposition parse_exposition(const std::string& text);

}  // namespace inferloop::testing
