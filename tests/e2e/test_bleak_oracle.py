"""The third-party oracle: bleak 0.20 (Debian's python3-bleak, a BlueZ client nobody here wrote)
against gattway-sim on a private bus, exactly as it runs against bluetoothd: scan with a service
filter, connect, discover, read, write, subscribe, disconnect.

With the tidy ordering it must pass. With the real ordering bleak 0.20 fails the way it fails
against real BlueZ now and then (BLUEZ-VM.md): that checks the switch; the gateway's own tests
handle both orderings."""
import asyncio
import os

import pytest

from sim_e2e import PrivateBus, Sim

HEART_RATE = "0000180d-0000-1000-8000-00805f9b34fb"
HR_MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_SENSOR_LOCATION = "00002a38-0000-1000-8000-00805f9b34fb"
CAMERA_SERVICE = "67617474-7761-7900-0000-0063616d0000"
CAMERA_CONTROL = "67617474-7761-7900-0000-0063616d0001"
CAMERA_STATUS = "67617474-7761-7900-0000-0063616d0002"


@pytest.fixture
def bus():
    with PrivateBus() as b:
        old = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        # bleak (dbus-fast) finds the system bus through this variable.
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = b.address
        yield b
        if old is None:
            del os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = old


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def find(service_uuid, timeout=10):
    from bleak import BleakScanner
    return await BleakScanner.find_device_by_filter(
        lambda d, ad: service_uuid in ad.service_uuids, timeout=timeout,
        service_uuids=[service_uuid])


def test_bleak_scans_connects_reads_writes_and_subscribes_with_the_tidy_ordering(bus):
    from bleak import BleakClient
    from bleak.exc import BleakDBusError

    async def scenario():
        strap = await find(HEART_RATE)
        assert strap is not None, "the heart-rate strap was not found by a filtered scan"
        assert strap.name == "HRM-Strap"
        async with BleakClient(strap) as client:
            services = {s.uuid for s in client.services}
            assert HEART_RATE in services
            assert "0000180f-0000-1000-8000-00805f9b34fb" in services
            assert "00001800-0000-1000-8000-00805f9b34fb" not in services  # GAP is bluetoothd's
            assert await client.read_gatt_char(BODY_SENSOR_LOCATION) == bytearray(b"\x01")  # chest

            values = []
            enough = asyncio.Event()

            def on_value(_, data):
                values.append(bytes(data))
                if len(values) >= 10:
                    enough.set()

            await client.start_notify(HR_MEASUREMENT, on_value)
            await asyncio.wait_for(enough.wait(), 20)
            await client.stop_notify(HR_MEASUREMENT)
            assert all(len(v) == 2 and v[0] == 0 and 40 <= v[1] <= 200 for v in values), values

        camera = await find(CAMERA_SERVICE)
        assert camera is not None and camera.name.startswith("Cam-")
        async with BleakClient(camera) as client:
            await client.write_gatt_char(CAMERA_CONTROL, b"\x01", response=True)  # capture
            status = await client.read_gatt_char(CAMERA_STATUS)
            assert status[1] == 1, status  # one snapshot taken
            with pytest.raises(BleakDBusError) as bad:
                await client.write_gatt_char(CAMERA_CONTROL, b"\x7f", response=True)
            assert bad.value.dbus_error == "org.bluez.Error.Failed"
            assert "ATT error: 0x80" in str(bad.value)
        return True

    with Sim(bus, "--notification_interval=50ms", "--disconnect_grace=100ms") as sim:
        assert run(scenario()), sim.log_text()


def test_bleak_trips_over_the_real_ordering(bus):
    from bleak import BleakClient
    from bleak.exc import BleakError

    async def scenario():
        strap = await find(HEART_RATE)
        assert strap is not None
        client = BleakClient(strap, timeout=10)
        # Connected=true is never signalled, so bleak believes the device disconnected during
        # service discovery ("failed to discover services, device disconnected").
        with pytest.raises((BleakError, asyncio.TimeoutError)):
            await client.connect()
        return True

    with Sim(bus, "--ordering=real", "--disconnect_grace=100ms") as sim:
        assert run(scenario()), sim.log_text()
