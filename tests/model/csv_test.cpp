// The CLI's CSV: floats survive a write/read round trip bit for bit, the
// header is required (a first line of numbers is refused, never eaten),
// timestamps read exactly as int64, malformed files are reported by file,
// line and column in bounded messages, and the block-wise file reader agrees
// with the in-memory parser across block boundaries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "fixtures.hpp"
#include "inferloop/error.hpp"

namespace inferloop::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string read_error(const fs::path& file, const cli::CsvOptions& options = {}) {
  try {
    (void)cli::read_csv(file, options);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "read_csv(" << file << ") did not throw";
  return {};
}

std::string parse_error(std::string_view text, const cli::CsvOptions& options = {}) {
  try {
    (void)cli::parse_csv(text, "mem.csv", options);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "parse_csv did not throw";
  return {};
}

const cli::CsvOptions kFeatureFile{.timestamp_column = "timestamp_ns"};

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
  const fs::path short_row = dir.write("short.csv", "a,b,c\n1,2\n");
  EXPECT_EQ(read_error(short_row), short_row.string() + ":2: has 2 columns, but the header has 3; "
                                                        "every row needs one cell per column");
  const fs::path empty = dir.write("empty.csv", "");
  EXPECT_EQ(read_error(empty), empty.string() + ": is empty; expected a header line naming the columns");
}

TEST(Csv, AFirstLineOfNumbersIsRefusedWithAHeaderHintInsteadOfEatingARow) {
  ScratchDir dir;
  const fs::path features = dir.write("features.csv", "1.5,2,-3e-2\n4,5,6\n");
  EXPECT_EQ(read_error(features),
            features.string() + ":1: the first line looks like data (all numbers), not a header; "
                                "add a header line: f0,f1,f2 (the first line of the file is taken "
                                "as the header, so it must name the columns)");
  // Missing values count as data too; the hint for a feature file starts
  // with its timestamp column and abbreviates a wide header.
  const fs::path wide = dir.write("wide.csv", "1700000000000000000,nan,,1,2,3,4,5,6\n");
  EXPECT_THAT(read_error(wide, kFeatureFile),
              HasSubstr(":1: the first line looks like data (all numbers), not a header; add a "
                        "header line: timestamp_ns,f0,f1,...,f7 "));
  // Blank lines and a byte order mark before it do not hide it.
  EXPECT_THAT(parse_error("\xEF\xBB\xBF\n\n7,8\n"), HasSubstr("mem.csv:3: the first line looks like data"));
}

TEST(Csv, AHeaderWithAnyNameIsAccepted) {
  // One named cell is enough: "2" is an odd name, but the line is a header.
  const cli::CsvTable table = cli::parse_csv("2,x\n1,2\n", "mem.csv");
  EXPECT_EQ(table.header, (std::vector<std::string>{"2", "x"}));
  EXPECT_EQ(table.rows(), 1U);
}

TEST(Csv, TimestampsReadExactlyAsInt64InTheSamePass) {
  const cli::CsvTable table = cli::parse_csv(
      "timestamp_ns,a,b\n1700000000000000001,1,2\n\n  +1700000000000000003 , 3 ,4\r\n"
      "-9223372036854775808,5,6\n",
      "mem.csv", kFeatureFile);
  EXPECT_EQ(table.timestamps, (std::vector<std::int64_t>{1700000000000000001, 1700000000000000003,
                                                         INT64_MIN}));
  EXPECT_EQ(table.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(table.value_columns, 2U);
  EXPECT_EQ(table.lines, (std::vector<std::size_t>{2, 4, 5}));  // the blank line 3 is skipped
}

TEST(Csv, AFeatureFileNeedsItsTimestampColumnAndIntegerTimestamps) {
  EXPECT_EQ(parse_error("time,a\n1,2\n", kFeatureFile),
            "mem.csv:1: the first column must be timestamp_ns followed by one column per feature; "
            "found 'time' first");
  EXPECT_EQ(parse_error("timestamp_ns\n1\n", kFeatureFile),
            "mem.csv:1: the first column must be timestamp_ns followed by one column per feature; "
            "found 'timestamp_ns' and no feature columns");
  EXPECT_EQ(parse_error("timestamp_ns,a\n1.5e18,2\n", kFeatureFile),
            "mem.csv:2: column 1 ('timestamp_ns'): expected integer nanoseconds, found '1.5e18'");
  EXPECT_THAT(parse_error("timestamp_ns,a\n99999999999999999999,2\n", kFeatureFile),
              HasSubstr("expected integer nanoseconds, found '99999999999999999999'"));
}

TEST(Csv, AHugeCellGivesABoundedMessage) {
  // A 10 MB cell: the line is over the limit; the message quotes a prefix.
  const std::string huge = "a,b\n1," + std::string(10 << 20, 'x') + "\n";
  ScratchDir dir;
  const fs::path file = dir.write("huge.csv", huge);
  const std::string message = read_error(file);
  EXPECT_THAT(message, HasSubstr(file.string() + ":2: the line is longer than 1048576 bytes"));
  EXPECT_LT(message.size(), 400U);
  EXPECT_LT(parse_error(huge).size(), 400U);
  // A long cell within the limit: quoted, bounded, with its length.
  const std::string long_cell = "a,b\n1," + std::string(100000, 'y') + "\n";
  const std::string cell_message = parse_error(long_cell);
  EXPECT_THAT(cell_message, HasSubstr("column 2 ('b'): expected a number, found 'yyy"));
  EXPECT_THAT(cell_message, HasSubstr("(100000 bytes)"));
  EXPECT_LT(cell_message.size(), 300U);
  // Header names are quoted the same way when a message names a column.
  const std::string long_name = "a," + std::string(5000, 'n') + "\n1,z\n";
  EXPECT_LT(parse_error(long_name).size(), 300U);
}

TEST(Csv, TooManyColumnsAreRefused) {
  std::string header = "c0";
  for (std::size_t c = 1; c <= cli::kMaxCsvColumns; ++c) header += ",c";
  EXPECT_EQ(parse_error(header + "\n"),
            "mem.csv:1: the header names 65537 columns; at most 65536 are read");
}

TEST(Csv, ControlCharactersInMessagesAreEscaped) {
  EXPECT_THAT(parse_error(std::string("a\n1\x1b[2J\n")),
              HasSubstr("expected a number, found '1\\x1b[2J'"));
}

TEST(Csv, TheFileReaderAgreesWithTheParserAcrossBlockBoundaries) {
  // About 12 MB: three read blocks, with lines split across each boundary.
  std::mt19937 random(11);
  std::ostringstream text;
  text << "timestamp_ns,a,b,c\n";
  std::size_t rows = 0;
  while (text.tellp() < 12 << 20) {
    text << 1700000000000000000 + rows << ',' << cli::format_float(static_cast<float>(random()) / 7.0F)
         << ",nan," << static_cast<int>(random() % 1000) - 500 << (rows % 7 == 0 ? "\r\n" : "\n");
    if (rows % 1000 == 0) text << "\n";  // blank lines
    ++rows;
  }
  ScratchDir dir;
  const fs::path file = dir.write("big.csv", text.str());
  const cli::CsvTable from_file = cli::read_csv(file, kFeatureFile);
  const cli::CsvTable from_memory = cli::parse_csv(text.str(), file.string(), kFeatureFile);
  EXPECT_EQ(from_file.rows(), rows);
  EXPECT_EQ(from_file.header, from_memory.header);
  EXPECT_EQ(from_file.timestamps, from_memory.timestamps);
  EXPECT_EQ(to_bits(from_file.values), to_bits(from_memory.values));
  EXPECT_EQ(from_file.lines, from_memory.lines);
  EXPECT_EQ(from_file.timestamps.back(), static_cast<std::int64_t>(1700000000000000000 + rows - 1));
}

TEST(Csv, ParsingOnThreadsGivesTheSameTableAndTheSameFirstError) {
  // About 3 MB with blank lines, CRLF lines and the header after blank
  // lines: every block is cut into runs of lines, one per thread.
  std::mt19937 random(5);
  std::ostringstream text;
  text << "\n\ntimestamp_ns,a,b\n";
  std::size_t rows = 0;
  while (text.tellp() < 3 << 20) {
    text << 1700000000000000000 + rows << ',' << cli::format_float(static_cast<float>(random()) / 3.0F)
         << ',' << (rows % 5 == 0 ? "" : "1.5") << (rows % 3 == 0 ? "\r\n" : "\n");
    if (rows % 777 == 0) text << "\n";
    ++rows;
  }
  ScratchDir dir;
  const fs::path file = dir.write("threads.csv", text.str());
  const cli::CsvTable one = cli::read_csv(file, kFeatureFile);
  ASSERT_EQ(one.rows(), rows);
  for (std::size_t threads : {2U, 3U, 8U}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    const cli::CsvTable many =
        cli::read_csv(file, {.timestamp_column = "timestamp_ns", .threads = threads});
    EXPECT_EQ(many.header, one.header);
    EXPECT_EQ(many.timestamps, one.timestamps);
    EXPECT_EQ(to_bits(many.values), to_bits(one.values));
    EXPECT_EQ(many.lines, one.lines);
  }
  // From memory, as one block, without its last newline.
  const std::string unterminated = text.str().substr(0, text.str().size() - 1);
  const cli::CsvTable from_memory = cli::parse_csv(
      unterminated, file.string(), {.timestamp_column = "timestamp_ns", .threads = 3});
  EXPECT_EQ(from_memory.timestamps, one.timestamps);
  EXPECT_EQ(to_bits(from_memory.values), to_bits(one.values));
  EXPECT_EQ(from_memory.lines, one.lines);
  // Two bad lines, far apart (in different threads' runs): the first is
  // the one reported, with its own line number, whatever the threads.
  std::string damaged = text.str();
  const std::size_t late = damaged.rfind(",1.5\n");
  damaged.replace(late, 4, ",x.5");
  const std::size_t early = damaged.find(",1.5\n", damaged.size() / 5);
  damaged.replace(early, 4, ",y.5");
  const fs::path bad = dir.write("bad.csv", damaged);
  const std::string reference = read_error(bad, kFeatureFile);
  EXPECT_THAT(reference, HasSubstr("expected a number, found 'y.5'"));
  const auto line = 1 + std::count(damaged.begin(), damaged.begin() + static_cast<std::ptrdiff_t>(early), '\n');
  EXPECT_THAT(reference, HasSubstr("bad.csv:" + std::to_string(line) + ":"));
  for (std::size_t threads : {2U, 8U}) {
    EXPECT_EQ(read_error(bad, {.timestamp_column = "timestamp_ns", .threads = threads}), reference);
  }
}

TEST(Csv, ALastLineWithoutNewlineIsRead) {
  ScratchDir dir;
  const cli::CsvTable table = cli::read_csv(dir.write("n.csv", "a\n1\n2"));
  EXPECT_EQ(table.values, (std::vector<float>{1, 2}));
}

TEST(Csv, WriteCsvRowJoinsTwoSpans) {
  std::ostringstream out;
  const std::vector<float> features{1.5F, -2.0F};
  const std::vector<float> predictions{0.25F};
  cli::write_csv_row(out, features, predictions);
  cli::write_csv_row(out, {}, predictions);
  EXPECT_EQ(out.str(), "1.5,-2,0.25\n0.25\n");
}

}  // namespace
}  // namespace inferloop::testing
