// The CLI's CSV: floats survive a write/read round trip bit for bit, and
// malformed files are reported by file, line and column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "fixtures.hpp"
#include "inferloop/error.hpp"

namespace inferloop::testing {
namespace {

std::string read_error(const fs::path& file) {
  try {
    (void)cli::read_csv(file);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "read_csv(" << file << ") did not throw";
  return {};
}

TEST(Csv, FloatsRoundTripBitForBit) {
  std::mt19937 random(7);
  std::vector<float> values;
  for (int i = 0; i < 20000; ++i) {
    std::uint32_t bits = random();
    float value = 0;
    std::memcpy(&value, &bits, sizeof value);
    if (std::isfinite(value)) values.push_back(value);
  }
  values.insert(values.end(), {0.0F, -0.0F, 1e-45F, 3.4028235e38F, 0.1F, 1.0F / 3.0F});
  const std::size_t columns = 2;
  values.resize(values.size() / columns * columns);

  ScratchDir dir;
  std::ostringstream text;
  cli::write_csv(text, {"a", "b"}, values);
  const cli::CsvTable table = cli::read_csv(dir.write("values.csv", text.str()));
  EXPECT_EQ(table.header, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(table.rows(), values.size() / columns);
  EXPECT_EQ(to_bits(table.values), to_bits(values));
}

TEST(Csv, MissingCellsReadAsNaN) {
  ScratchDir dir;
  const cli::CsvTable table = cli::read_csv(dir.write("m.csv", "a,b,c,d\n,nan,NA,2.5\r\n"));
  ASSERT_EQ(table.values.size(), 4U);
  EXPECT_TRUE(std::isnan(table.values[0]) && std::isnan(table.values[1]) &&
              std::isnan(table.values[2]));
  EXPECT_EQ(table.values[3], 2.5F);
  EXPECT_EQ(cli::format_float(std::nanf("")), "nan");
}

TEST(Csv, ErrorsNameFileLineAndColumn) {
  ScratchDir dir;
  const fs::path bad = dir.write("features.csv", "bid,spread\n1,2\n3,abc\n");
  EXPECT_EQ(read_error(bad), bad.string() + ":3: column 2 ('spread'): expected a number, found 'abc'");
  const fs::path ragged = dir.write("ragged.csv", "a,b\n1,2,3\n");
  EXPECT_EQ(read_error(ragged), ragged.string() + ":2: has 3 columns, but the header has 2; every "
                                                  "row needs one cell per column");
  const fs::path empty = dir.write("empty.csv", "");
  EXPECT_EQ(read_error(empty), empty.string() + ": is empty; expected a header line naming the columns");
}

}  // namespace
}  // namespace inferloop::testing
