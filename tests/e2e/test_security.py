"""TLS, mTLS, bearer tokens with roles through every RPC, token reload, and the --insecure rule.
Certificates are made in the test with openssl."""
import hashlib
import signal
import subprocess
import time

import grpc
import pytest

from gattway_e2e import GATTWAYD, Gattwayd, error_info

from grpc.health.v1 import health_pb2, health_pb2_grpc
from gattway.v1 import adapter_pb2, adapter_pb2_grpc, session_pb2, session_pb2_grpc
from gattway.v1 import gatt_pb2, metrics_pb2  # noqa: F401 (descriptors)
from gattway.v1 import peripheral_pb2, peripheral_pb2_grpc, scan_pb2, scan_pb2_grpc
from google.protobuf import descriptor_pool

VIEWER, OPERATOR = "viewer-token-0123", "operator-token-4567"
API_FILES = ["gattway/v1/adapter.proto", "gattway/v1/scan.proto", "gattway/v1/session.proto",
             "gattway/v1/gatt.proto", "gattway/v1/peripheral.proto", "gattway/v1/metrics.proto"]
OPERATOR_METHODS = {
    "UpdateAdapter", "Connect", "Disconnect", "CreatePolicy", "UpdatePolicy", "DeletePolicy",
    "Write", "Execute", "RegisterServices", "UnregisterServices", "StartAdvertising",
    "StopAdvertising", "SetValue", "Notify", "StreamWrites", "HandleReads",
}


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", f"{name}.pem",
                cwd=d)
    return d


def health(channel, timeout=5):
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                     timeout=timeout).status


def test_tls_handshake_and_health(pki):
    with Gattwayd(f"--tls_cert={pki}/server.pem", f"--tls_key={pki}/server.key") as g:
        creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
        with grpc.secure_channel(g.address, creds) as ch:
            assert health(ch) == health_pb2.HealthCheckResponse.SERVING
        # A plaintext client cannot talk to a TLS port.
        with grpc.insecure_channel(g.address) as ch, pytest.raises(grpc.RpcError):
            health(ch, timeout=2)


def test_mtls_requires_a_client_certificate_signed_by_the_ca(pki):
    with Gattwayd(f"--tls_cert={pki}/server.pem", f"--tls_key={pki}/server.key",
                  f"--tls_client_ca={pki}/ca.pem") as g:
        ca = (pki / "ca.pem").read_bytes()
        with grpc.secure_channel(g.address, grpc.ssl_channel_credentials(ca)) as ch:
            with pytest.raises(grpc.RpcError) as caught:
                health(ch, timeout=3)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        creds = grpc.ssl_channel_credentials(ca, (pki / "client.key").read_bytes(),
                                             (pki / "client.pem").read_bytes())
        with grpc.secure_channel(g.address, creds) as ch:
            assert health(ch) == health_pb2.HealthCheckResponse.SERVING


def write_tokens(path, entries):
    lines = ["tokens:"]
    for name, role, token in entries:
        lines.append(f"  - name: {name}\n    role: {role}\n"
                     f"    sha256: {hashlib.sha256(token.encode()).hexdigest()}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def token_gateway(tmp_path_factory):
    d = tmp_path_factory.mktemp("tokens")
    write_tokens(d / "tokens.yaml", [("dashboard", "viewer", VIEWER),
                                     ("ops", "operator", OPERATOR)])
    with Gattwayd(f"--tokens_file={d}/tokens.yaml") as g:
        g.tokens_path = d / "tokens.yaml"
        yield g


def every_api_method():
    pool = descriptor_pool.Default()
    for f in API_FILES:
        for service in pool.FindFileByName(f).services_by_name.values():
            for m in service.methods:
                yield f"/{service.full_name}/{m.name}", m


def call(channel, path, method, token):
    """Calls `path` with an empty request; returns the status code (OK if it answered)."""
    metadata = [("authorization", f"Bearer {token}")] if token else []
    ident = lambda b: b  # noqa: E731
    kind = (method.client_streaming, method.server_streaming)
    try:
        if kind == (False, False):
            channel.unary_unary(path, ident, ident)(b"", metadata=metadata, timeout=5)
        elif kind == (False, True):
            for _ in channel.unary_stream(path, ident, ident)(b"", metadata=metadata, timeout=2):
                break
        else:
            for _ in channel.stream_stream(path, ident, ident)(iter([]), metadata=metadata,
                                                               timeout=2):
                break
        return grpc.StatusCode.OK
    except grpc.RpcError as e:
        return e.code()


def test_every_rpc_checks_the_callers_role(token_gateway):
    with grpc.insecure_channel(token_gateway.address) as ch:
        checked = 0
        for path, method in every_api_method():
            assert call(ch, path, method, None) == grpc.StatusCode.UNAUTHENTICATED, path
            assert call(ch, path, method, "wrong-token") == grpc.StatusCode.UNAUTHENTICATED, path
            viewer = call(ch, path, method, VIEWER)
            operator = call(ch, path, method, OPERATOR)
            assert operator not in (grpc.StatusCode.UNAUTHENTICATED,
                                    grpc.StatusCode.PERMISSION_DENIED), path
            if method.name in OPERATOR_METHODS:
                assert viewer == grpc.StatusCode.PERMISSION_DENIED, path
            else:
                assert viewer not in (grpc.StatusCode.UNAUTHENTICATED,
                                      grpc.StatusCode.PERMISSION_DENIED), path
            checked += 1
        assert checked == 34


def test_permission_denied_says_which_role_is_needed(token_gateway):
    with grpc.insecure_channel(token_gateway.address) as ch:
        stub = session_pb2_grpc.SessionServiceStub(ch)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Connect(session_pb2.ConnectRequest(address="AA:BB:CC:DD:EE:FF"),
                         metadata=[("authorization", f"Bearer {VIEWER}")], timeout=5)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "needs the operator role" in caught.value.details()
        assert "dashboard" in caught.value.details()


def test_health_stays_open_for_probes(token_gateway):
    with grpc.insecure_channel(token_gateway.address) as ch:
        assert health(ch) == health_pb2.HealthCheckResponse.SERVING


def test_tokens_reload_on_sighup(token_gateway):
    new = "fresh-token-89ab"
    write_tokens(token_gateway.tokens_path, [("dashboard", "viewer", VIEWER),
                                             ("ops", "operator", OPERATOR),
                                             ("late", "viewer", new)])
    token_gateway.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    with grpc.insecure_channel(token_gateway.address) as ch:
        stub = adapter_pb2_grpc.AdapterServiceStub(ch)
        while True:
            try:
                stub.ListAdapters(adapter_pb2.ListAdaptersRequest(),
                                  metadata=[("authorization", f"Bearer {new}")], timeout=5)
                code = grpc.StatusCode.OK
            except grpc.RpcError as e:
                code = e.code()
            if code != grpc.StatusCode.UNAUTHENTICATED or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert code != grpc.StatusCode.UNAUTHENTICATED
    assert "event=auth.tokens_loaded" in token_gateway.log_text()


def test_plaintext_beyond_loopback_needs_insecure():
    done = subprocess.run([GATTWAYD, "--grpc_address=0.0.0.0:0", "--metrics_address="],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert "refusing to serve 0.0.0.0:0 in plaintext without tokens" in done.stderr
    assert "--insecure" in done.stderr
    with Gattwayd("--grpc_address=0.0.0.0:0", "--insecure") as g:
        assert "event=grpc.insecure" in g.log_text()


def test_tokens_in_clear_beyond_loopback_are_refused(tmp_path):
    write_tokens(tmp_path / "tokens.yaml", [("ops", "operator", OPERATOR)])
    done = subprocess.run([GATTWAYD, "--grpc_address=0.0.0.0:0", "--metrics_address=",
                           f"--tokens_file={tmp_path}/tokens.yaml", "--insecure"],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert "would cross the network in clear" in done.stderr


def test_tokens_work_over_tls_beyond_loopback(pki, tmp_path):
    write_tokens(tmp_path / "tokens.yaml", [("ops", "operator", OPERATOR)])
    with Gattwayd("--grpc_address=0.0.0.0:0", f"--tls_cert={pki}/server.pem",
                  f"--tls_key={pki}/server.key", f"--tokens_file={tmp_path}/tokens.yaml") as g:
        creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
        with grpc.secure_channel(g.address, creds) as ch:
            stub = adapter_pb2_grpc.AdapterServiceStub(ch)
            with pytest.raises(grpc.RpcError) as caught:
                stub.ListAdapters(adapter_pb2.ListAdaptersRequest(), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_client_holds_at_most_max_streams_per_client_open():
    with Gattwayd("--simulate", "--max_streams_per_client=3") as g, \
            grpc.insecure_channel(g.address) as ch:
        peripheral = peripheral_pb2_grpc.PeripheralServiceStub(ch)
        scan = scan_pb2_grpc.ScanServiceStub(ch)

        def watch():
            stream = peripheral.WatchPeripheral(peripheral_pb2.WatchPeripheralRequest(), timeout=30)
            stream.initial_metadata()  # sent once the stream is registered and live
            return stream

        open_streams = [watch() for _ in range(3)]
        # A fourth stream of any kind is refused, with the limit named.
        with pytest.raises(grpc.RpcError) as caught:
            next(iter(scan.Scan(scan_pb2.ScanRequest(), timeout=5)))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "--max_streams_per_client" in caught.value.details()
        assert error_info(caught.value).reason == "LIMIT_EXCEEDED"
        assert error_info(caught.value).metadata["limit"] == "3"
        # The refused stream took no slot, and ending one stream frees one.
        open_streams.pop().cancel()
        deadline = time.monotonic() + 5
        while True:
            try:
                open_streams.append(watch())
                break
            except grpc.RpcError as e:  # the cancelled stream may not be gone yet
                assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert health(ch) == health_pb2.HealthCheckResponse.SERVING
        for s in open_streams:
            s.cancel()


def test_max_streams_per_client_is_checked():
    done = subprocess.run([GATTWAYD, "--max_streams_per_client=0", "--metrics_address="],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert "--max_streams_per_client must be 1..10000, not 0" in done.stderr
