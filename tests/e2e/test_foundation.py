"""The foundation, end to end: gattwayd as a user starts it, a Python client generated from the
protos, health, reflection, a field refused by name, bad flags and a clean stop."""
import signal
import subprocess

import grpc
import pytest

from gattway_e2e import GATTWAYD, Gattwayd, error_info

from grpc.health.v1 import health_pb2, health_pb2_grpc
from grpc.reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from gattway.v1 import session_pb2, session_pb2_grpc

API_SERVICES = {
    "gattway.v1.AdapterService", "gattway.v1.ScanService", "gattway.v1.SessionService",
    "gattway.v1.GattService", "gattway.v1.PeripheralService", "gattway.v1.MetricsService",
}


@pytest.fixture(scope="module")
def gateway():
    with Gattwayd() as g:
        yield g


@pytest.fixture(scope="module")
def channel(gateway):
    with grpc.insecure_channel(gateway.address) as ch:
        yield ch


def test_health_is_serving_for_the_server_and_every_service(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    for service in [""] + sorted(API_SERVICES):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


def test_reflection_lists_every_api_service_and_health(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    [reply] = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = {s.name for s in reply.list_services_response.service}
    assert API_SERVICES <= names
    assert "grpc.health.v1.Health" in names


def test_reflection_describes_the_health_service(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.health.v1.Health")
    [reply] = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    assert reply.file_descriptor_response.file_descriptor_proto, reply


def test_a_bad_field_answers_invalid_argument_naming_it(channel):
    stub = session_pb2_grpc.SessionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        policy = session_pb2.Policy(name="kept")
        policy.subscriptions.add().characteristic.characteristic_uuid = "2A37"
        policy.subscriptions.add().characteristic.characteristic_uuid = "not a uuid"
        stub.CreatePolicy(session_pb2.CreatePolicyRequest(policy=policy), timeout=5)
    e = caught.value
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    field = "policy.subscriptions[1].characteristic.characteristic_uuid"
    assert field in e.details()
    info = error_info(e)
    assert info is not None and info.domain == "gattway.dev" and info.reason == "INVALID_FIELD"
    assert info.metadata["field"] == field


@pytest.mark.parametrize("args, message", [
    (["--no_such_flag"], "Unknown command line flag 'no_such_flag'"),
    (["--grpc_address=nonsense"], "--grpc_address=\"nonsense\" is not a listen address"),
    (["--grpc_address=127.0.0.1:99999"], "is not a listen address"),
    (["--log_format=xml"], "--log_format must be text or json"),
    (["--log_level=chatty"], "--log_level must be debug, info, warn or error"),
    (["stray"], "unexpected argument \"stray\""),
])
def test_bad_flags_exit_non_zero_with_a_clear_message(args, message):
    done = subprocess.run([GATTWAYD, *args], capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def test_help_describes_every_flag():
    done = subprocess.run([GATTWAYD, "--help"], capture_output=True, text=True, timeout=20)
    for flag in ("--grpc_address", "--metrics_address", "--dbus_address", "--state_dir",
                 "--config", "--log_format", "--log_level"):
        assert flag in done.stdout + done.stderr, flag


def test_serves_prometheus_metrics(gateway):
    import urllib.request
    assert gateway.metrics_port
    body = urllib.request.urlopen(f"http://127.0.0.1:{gateway.metrics_port}/metrics",
                                  timeout=5).read().decode()
    assert "# TYPE gattway_grpc_calls_total counter" in body
    assert "gattway_bluez_up" in body


def test_sigterm_stops_it_cleanly_within_five_seconds():
    g = Gattwayd()  # with the Prometheus endpoint on, as by default
    code, seconds = g.stop(signal.SIGTERM)
    assert code == 0, g.log_text()
    assert seconds < 5.0
    assert "event=gateway.stopped" in g.log_text()
