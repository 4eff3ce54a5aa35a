#include "ble/central/gatt_client.h"

#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/central_fixture.h"

namespace gattway::testing {
namespace {

using Op = FakeCentralBackend::Op;

class AGattClient : public CentralTest {
 protected:
  AGattClient() { EXPECT_TRUE(connect().ok()); }
  GattClient& gatt() { return central->gatt(); }

  absl::StatusOr<ReadResult> read(const AttributeQuery& q, std::uint16_t offset = 0,
                                  absl::Duration timeout = absl::Seconds(10)) {
    std::optional<absl::StatusOr<ReadResult>> out;
    auto call = gatt().read(addr(kDevice), q, offset, timeout,
                            [&](absl::StatusOr<ReadResult> r) { out = std::move(r); });
    call.detach();
    for (int i = 0; i < 200 && !out; ++i) clock.advance(absl::Milliseconds(100));
    return out ? *out : absl::InternalError("no answer");
  }
  absl::StatusOr<WriteResult> write(const AttributeQuery& q, std::vector<std::uint8_t> value,
                                    WriteMode mode = WriteMode::kAuto) {
    std::optional<absl::StatusOr<WriteResult>> out;
    auto call = gatt().write(addr(kDevice), q, std::move(value), mode, 0, absl::Seconds(10),
                             [&](absl::StatusOr<WriteResult> r) { out = std::move(r); });
    call.detach();
    for (int i = 0; i < 200 && !out; ++i) clock.advance(absl::Milliseconds(100));
    return out ? *out : absl::InternalError("no answer");
  }
};

TEST_F(AGattClient, ReadsACharacteristicAndADescriptor) {
  auto r = read(charRef(0x2A38));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, std::vector<std::uint8_t>{0x01});
  EXPECT_EQ(r->handle, 0x0013);
  auto d = read(handleRef(0x0023), 3);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(std::string(d->value.begin(), d->value.end()), "tery");
  EXPECT_EQ(metrics.gattOps(GattOpKind::kRead, 0), 2u);
}

TEST_F(AGattClient, RefusesToReadWithoutTheReadProperty) {
  auto r = read(charRef(0x2A39));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(err::reasonOf(r.status()), err::Reason::kOperationNotSupported);
  EXPECT_EQ(backend.calls(Op::kRead), 0);
}

TEST_F(AGattClient, PicksTheWriteProcedureFromThePropertiesInAutoMode) {
  auto request = write(charRef(0x2A39), {0x01});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->mode, WriteMode::kWithResponse);
  AttributeQuery nus;
  nus.characteristic = *Uuid::parse("6e400002-b5a3-f393-e0a9-e50e24dcca9e");
  auto command = write(nus, {0x02});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->mode, WriteMode::kWithoutResponse);
  ASSERT_EQ(backend.writes().size(), 2u);
  EXPECT_EQ(backend.writes()[1].type, WriteType::kCommand);
}

TEST_F(AGattClient, RefusesAWriteWithoutResponseLongerThanMtuMinusThree) {
  backend.radioDevice(addr(kDevice)).mtu = 23;
  AttributeQuery nus;
  nus.characteristic = *Uuid::parse("6e400002-b5a3-f393-e0a9-e50e24dcca9e");
  EXPECT_TRUE(write(nus, std::vector<std::uint8_t>(20, 1)).ok());
  auto tooLong = write(nus, std::vector<std::uint8_t>(21, 1));
  EXPECT_EQ(tooLong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(err::metadata(tooLong.status(), "field"), "value");
  EXPECT_NE(tooLong.status().message().find("MTU is 23"), absl::string_view::npos);
}

TEST_F(AGattClient, RefusesModesTheCharacteristicDoesNotSupport) {
  auto r = write(charRef(0x2A39), {1}, WriteMode::kWithoutResponse);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  r = write(charRef(0x2A38), {1});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  r = write(handleRef(0x0012), {1, 0});  // the CCCD
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("Subscribe"), absl::string_view::npos);
  EXPECT_EQ(backend.calls(Op::kWrite), 0);
}

TEST_F(AGattClient, FailsAReadAtOnceWhenTheLinkDrops) {
  backend.setDelay(Op::kRead, absl::Seconds(5));
  std::optional<absl::StatusOr<ReadResult>> out;
  auto call = gatt().read(addr(kDevice), charRef(0x2A38), 0, absl::Seconds(10),
                          [&](absl::StatusOr<ReadResult> r) { out = std::move(r); });
  clock.advance(absl::Seconds(1));
  backend.dropLink(addr(kDevice));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::reasonOf(out->status()), err::Reason::kDisconnected);
}

TEST_F(AGattClient, TimesOutASlowRead) {
  backend.hangNext(Op::kRead);
  auto r = read(charRef(0x2A38), 0, absl::Milliseconds(500));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(metrics.gattOps(GattOpKind::kRead,
                            static_cast<std::size_t>(absl::StatusCode::kDeadlineExceeded)),
            1u);
}

TEST_F(AGattClient, KeepsTheAttErrorOfTheDevice) {
  backend.failNext(Op::kRead, err::fromBluez("org.bluez.Error.Failed",
                                             "Operation failed with ATT error: 0x0e", "read"));
  auto r = read(charRef(0x2A38));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(err::metadata(r.status(), "att_error"), "0x0e");
  EXPECT_EQ(err::metadata(r.status(), "bluez_error"), "org.bluez.Error.Failed");
}

TEST_F(AGattClient, NeverCallsBackForACancelledCall) {
  backend.setDelay(Op::kRead, absl::Seconds(1));
  bool called = false;
  {
    auto call = gatt().read(addr(kDevice), charRef(0x2A38), 0, absl::Seconds(10),
                            [&](absl::StatusOr<ReadResult>) { called = true; });
  }
  clock.advance(absl::Seconds(2));
  EXPECT_FALSE(called);
  EXPECT_EQ(gatt().pending(), 0u);
}

TEST_F(AGattClient, AnswersNotFoundWithoutASessionAndFailedPreconditionWhileConnecting) {
  std::optional<absl::StatusOr<ReadResult>> out;
  auto call = gatt().read(addr("AA:BB:CC:DD:EE:77"), charRef(0x2A38), 0, absl::Seconds(1),
                          [&](absl::StatusOr<ReadResult> r) { out = std::move(r); });
  clock.runUntilIdle();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(err::reasonOf(out->status()), err::Reason::kDeviceNotFound);
}

TEST_F(AGattClient, DiscoversTheWholeTreeOrATarget) {
  auto all = gatt().discover(addr(kDevice), std::nullopt, std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);
  auto one = gatt().discover(addr(kDevice), uuid(0x180D), uuid(0x2A37));
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  ASSERT_EQ((*one)[0].characteristics.size(), 1u);
  EXPECT_EQ((*one)[0].characteristics[0].properties, gatt_property::kNotify);
}

}  // namespace
}  // namespace gattway::testing
