// The CLI's value rendering: hex both ways and the SIG decodings it promises (GATT Specification
// Supplement: 2A6E sint16 0.01 degC, 2A6F uint16 0.01 %, 2A37 flags + uint8/uint16 bpm, 2A19 %).
#include "cmd/gattway/sig_values.h"

#include <string>

#include "gtest/gtest.h"

namespace gattway::cli {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s += static_cast<char>(v);
  return s;
}

TEST(CliHex, PrintsLowerCaseBytesSpaceSeparated) {
  EXPECT_EQ(toHex(bytes({0x01, 0xab, 0xff})), "01 ab ff");
  EXPECT_EQ(toHex(""), "");
}

TEST(CliHex, ParsesTheFormsPeopleType) {
  EXPECT_EQ(*parseHex("01abff"), bytes({0x01, 0xab, 0xff}));
  EXPECT_EQ(*parseHex("0x01ABFF"), bytes({0x01, 0xab, 0xff}));
  EXPECT_EQ(*parseHex("01 ab ff"), bytes({0x01, 0xab, 0xff}));
  EXPECT_EQ(*parseHex("01:ab:ff"), bytes({0x01, 0xab, 0xff}));
  EXPECT_EQ(*parseHex(""), "");
}

TEST(CliHex, RejectsOddDigitsAndNonHexNamingTheProblem) {
  auto odd = parseHex("abc");
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.status().message().find("odd number"), std::string::npos);
  auto bad = parseHex("01zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'z'"), std::string::npos);
}

TEST(CliUuid, ShortensTheBaseUuidAndUpperCases) {
  EXPECT_EQ(shortUuid("2a6e"), "2A6E");
  EXPECT_EQ(shortUuid("0x2A6E"), "2A6E");
  EXPECT_EQ(shortUuid("00002a37-0000-1000-8000-00805f9b34fb"), "2A37");
  EXPECT_EQ(shortUuid("6e400001-b5a3-f393-e0a9-e50e24dcca9e"),
            "6E400001-B5A3-F393-E0A9-E50E24DCCA9E");
}

TEST(CliDecode, TemperatureIsSignedHundredthsOfADegree) {
  EXPECT_EQ(decodeValue("2A6E", bytes({0x66, 0x08})), "21.50 °C");  // 2150
  EXPECT_EQ(decodeValue("2a6e", bytes({0x06, 0xff})), "-2.50 °C");  // -250
  EXPECT_EQ(decodeValue("2A6E", bytes({0x00, 0x80})), "unknown");
  EXPECT_EQ(decodeValue("2A6E", bytes({0x66})), std::nullopt);
}

TEST(CliDecode, HumidityIsUnsignedHundredthsOfAPercent) {
  EXPECT_EQ(decodeValue("2A6F", bytes({0x94, 0x11})), "45.00 %");  // 4500
  EXPECT_EQ(decodeValue("2A6F", bytes({0xff, 0xff})), "unknown");
  EXPECT_EQ(decodeValue("2A6F", bytes({0x94, 0x11, 0x00})), std::nullopt);
}

TEST(CliDecode, HeartRateReadsEightOrSixteenBitBpmByItsFlags) {
  EXPECT_EQ(decodeValue("2A37", bytes({0x00, 72})), "72 bpm");
  EXPECT_EQ(decodeValue("2A37", bytes({0x01, 0x2c, 0x01})), "300 bpm");
  EXPECT_EQ(decodeValue("2A37", bytes({0x06, 60})), "60 bpm, contact");
  EXPECT_EQ(decodeValue("2A37", bytes({0x04, 60})), "60 bpm, no contact");
  EXPECT_EQ(decodeValue("2A37", bytes({0x01, 0x2c})), std::nullopt);  // 16-bit flag, 8 bits
  EXPECT_EQ(decodeValue("2A37", ""), std::nullopt);
}

TEST(CliDecode, BatteryIsAPercentUpToAHundred) {
  EXPECT_EQ(decodeValue("2A19", bytes({85})), "85 %");
  EXPECT_EQ(decodeValue("2A19", bytes({101})), std::nullopt);
  EXPECT_EQ(decodeValue("2A19", bytes({85, 1})), std::nullopt);
}

TEST(CliDecode, StringsAndLocationsAndUnknownCharacteristics) {
  EXPECT_EQ(decodeValue("2A00", "HRM-Strap"), "\"HRM-Strap\"");
  EXPECT_EQ(decodeValue("2A38", bytes({1})), "chest");
  EXPECT_EQ(decodeValue("2A38", bytes({9})), std::nullopt);
  EXPECT_EQ(decodeValue("FFF1", bytes({1, 2})), std::nullopt);
  EXPECT_EQ(characteristicName("0x2a37"), "Heart Rate Measurement");
  EXPECT_EQ(characteristicName("FFF1"), "");
}

}  // namespace
}  // namespace gattway::cli
