"""The `gattway` CLI as people and scripts run it, against `gattwayd --simulate`: tables, --json,
decoded values, live streams, and errors with their code, reason and ATT error."""
import base64
import hashlib
import json
import os
import subprocess
import time

import pytest

from gattway_e2e import Gattwayd
from test_security import pki  # noqa: F401  (the fixture: a CA, server and client certificates)

CLI = os.environ.get("GATTWAY_CLI", "gattway")
ENV_SENSOR = "C0:FF:EE:00:00:01"
HRM = "C0:FF:EE:00:01:01"
CAM = "00:1B:DC:0C:A0:01"
CAM_CONTROL = "67617474-7761-7900-0000-0063616d0001"


@pytest.fixture(scope="module")
def gw():
    with Gattwayd("--simulate") as g:
        yield g


def cli(gw, *args, env=None, timeout=30):
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault("GATTWAY_ADDRESS", gw.address)
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def ok(gw, *args, **kw):
    done = cli(gw, *args, **kw)
    assert done.returncode == 0, f"{args}: rc={done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def rows(text):
    """Table rows (after the header), cut at the header's column positions (cells may be empty;
    the tables pad every column to the same start)."""
    import re
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    bounds = list(zip(starts, starts[1:] + [None]))
    return [[line[a:b].strip() for a, b in bounds] for line in lines[1:]]


def test_adapters_lists_the_simulated_adapter(gw):
    out = ok(gw, "adapters")
    assert out.splitlines()[0].split()[:3] == ["NAME", "ADDRESS", "POWERED"]
    assert any(r[0] == "hci0" and r[2] == "yes" for r in rows(out)), out


def test_scan_prints_a_table_and_json_lines(gw):
    out = ok(gw, "scan", "--duration=3s")
    by_address = {r[0]: r for r in rows(out)}
    assert "EnvSensor-1" in by_address[ENV_SENSOR], out
    assert "HRM-Strap" in by_address[HRM] and "180D,180F" in by_address[HRM], out
    lines = ok(gw, "scan", "--duration=2s", "--service=180D", "--json").splitlines()
    messages = [json.loads(line) for line in lines]
    addresses = {r["address"] for m in messages for r in m.get("results", [])}
    assert addresses == {HRM}, lines


def test_scan_stops_after_count_devices(gw):
    start = time.monotonic()
    out = ok(gw, "scan", "--duration=0", "--count=1", "--name_prefix=EnvSensor-")
    assert time.monotonic() - start < 10
    assert len(rows(out)) == 1 and rows(out)[0][2].startswith("EnvSensor-"), out


def test_devices_lists_known_devices_without_scanning(gw):
    ok(gw, "scan", "--duration=2s")
    table = {r[0]: r for r in rows(ok(gw, "devices"))}
    assert table[HRM][2] == "HRM-Strap", table
    only = rows(ok(gw, "devices", "--name_prefix=EnvSensor-"))
    assert sorted(r[0] for r in only) == [ENV_SENSOR, "C0:FF:EE:00:00:02", "C0:FF:EE:00:00:03"]
    assert {d["address"] for d in json.loads(ok(gw, "devices", "--service=180D", "--json"))
            ["devices"]} == {HRM}


def test_connect_then_read_shows_hex_and_the_decoded_value(gw):
    out = ok(gw, "connect", ENV_SENSOR)
    assert rows(out)[0][:3] == [ENV_SENSOR, "CONNECTED", "ephemeral"], out
    temp = rows(ok(gw, "read", ENV_SENSOR, "2A6E"))[0]
    assert temp[0] == "2A6E (Temperature)", temp
    raw = bytes.fromhex(temp[2].replace(" ", ""))
    assert temp[3] == f"{int.from_bytes(raw, 'little', signed=True) / 100:.2f} °C", temp
    humidity = rows(ok(gw, "read", ENV_SENSOR, "0x2a6f"))[0]
    assert humidity[3].endswith(" %"), humidity
    battery = rows(ok(gw, "read", ENV_SENSOR, "2A19", "--service=180F"))[0]
    assert battery[3] == f"{int(battery[2], 16)} %", battery
    reply = json.loads(ok(gw, "read", ENV_SENSOR, "2A19", "--json"))
    assert len(base64.b64decode(reply["value"])) == 1 and reply["handle"] > 0, reply


def test_subscribe_streams_decoded_heart_rate_and_stops_after_count(gw):
    ok(gw, "connect", HRM)
    out = ok(gw, "subscribe", HRM, "2A37", "--count=3", timeout=30)
    assert "# " in out and "subscription started" in out, out
    values = rows(out)
    assert len(values) == 3, out
    assert [int(v[1]) for v in values] == [1, 2, 3], out
    assert all(v[3].endswith("bpm") for v in values), out
    lines = ok(gw, "subscribe", HRM, "2A37", "--count=2", "--json").splitlines()
    messages = [json.loads(line) for line in lines]
    assert messages[0]["event"]["type"] == "SUBSCRIPTION_EVENT_TYPE_STARTED", messages
    assert sum(len(m.get("notifications", [])) for m in messages) >= 2


def test_subscribe_for_a_duration_ends_cleanly(gw):
    ok(gw, "connect", HRM)
    start = time.monotonic()
    ok(gw, "subscribe", HRM, "2A37", "--duration=1500ms")
    assert 1.0 < time.monotonic() - start < 10


def test_write_and_an_att_error_with_its_code(gw):
    ok(gw, "connect", CAM)
    out = ok(gw, "write", CAM, CAM_CONTROL, "01")
    assert out.startswith("wrote 1 bytes to handle 0x"), out
    assert "with_response" in out, out
    done = cli(gw, "write", CAM, CAM_CONTROL, "ff")
    assert done.returncode == 1, done
    assert "att error: 0x80" in done.stderr, done.stderr
    assert "reason: ATT_ERROR" in done.stderr, done.stderr
    err = json.loads(cli(gw, "write", CAM, CAM_CONTROL, "ff", "--json").stderr)
    assert err["reason"] == "ATT_ERROR" and err["metadata"]["att_error"] == "0x80", err


def test_errors_name_the_grpc_code_and_reason(gw):
    ok(gw, "connect", ENV_SENSOR)
    done = cli(gw, "read", ENV_SENSOR, "2A99")
    assert done.returncode == 1
    assert done.stderr.startswith("error: NOT_FOUND: "), done.stderr
    assert "reason: ATTRIBUTE_NOT_FOUND" in done.stderr, done.stderr
    done = cli(gw, "read", "not-an-address", "2A19")
    assert done.returncode == 1
    assert "INVALID_ARGUMENT" in done.stderr and "reason: INVALID_FIELD" in done.stderr


def test_usage_errors_exit_two_and_say_what_is_wrong(gw):
    for args, words in [(["frobnicate"], "unknown command"),
                        (["read", ENV_SENSOR], "missing arguments"),
                        (["write", ENV_SENSOR, "2A6E", "0g"], "not a hex digit"),
                        (["write", ENV_SENSOR, "2A6E", "012"], "odd number"),
                        (["write", ENV_SENSOR, "2A6E", "01", "--mode=sometimes"], "--mode"),
                        (["scan", "--duration=soon"], "--duration"),
                        (["adapters", "--tls_cert=x.pem"], "--tls_key")]:
        done = cli(gw, *args)
        assert done.returncode == 2, (args, done)
        assert words in done.stderr, (args, done.stderr)
    assert cli(gw).returncode == 2


def test_help_lists_every_command(gw):
    out = ok(gw, "help")
    assert out.startswith("gattway: a command line"), out
    for command in ("adapters", "scan", "devices", "connect ADDRESS", "disconnect", "read ADDRESS",
                    "write ADDRESS", "subscribe", "sessions", "policy list", "peripheral register",
                    "metrics", "--tls_ca", "--token", "--json"):
        assert command in out, command


def test_an_unreachable_gateway_is_unavailable():
    done = subprocess.run([CLI, "adapters", "--address=127.0.0.1:1", "--timeout=3s"],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 1 and "UNAVAILABLE" in done.stderr, done
    assert "is a gateway listening at 127.0.0.1:1?" in done.stderr, done.stderr


def test_sessions_once_and_live(gw):
    ok(gw, "connect", ENV_SENSOR)
    table = rows(ok(gw, "sessions", "--once"))
    assert [ENV_SENSOR, "CONNECTED", "ephemeral"] in [r[:3] for r in table], table
    watcher = subprocess.Popen([CLI, "sessions", "--count=1", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, GATTWAY_ADDRESS=gw.address))
    first = json.loads(watcher.stdout.readline())  # the initial snapshot is sent first
    assert first["initial"] is True, first
    ok(gw, "connect", "C0:FF:EE:00:00:03")
    out, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert any(e["session"]["address"] == "C0:FF:EE:00:00:03" and not e.get("initial")
               for e in events), events


def test_sessions_table_shows_the_kept_subscriptions_of_a_policy(gw, tmp_path):
    policy = tmp_path / "keep.yaml"
    policy.write_text("name: cli-keep\nselector:\n  addresses: [\"" + HRM + "\"]\n"
                      "subscriptions:\n  - characteristic: {characteristic_uuid: \"2A37\"}\n")
    ok(gw, "policy", "create", str(policy))
    try:
        ok(gw, "connect", HRM, "--persistent")
        kept = ""
        for _ in range(100):
            out = ok(gw, "sessions", "--once")
            header, table = out.splitlines()[0].split(), rows(out)
            row = next(r for r in table if r[0] == HRM)
            kept = row[header.index("KEPT")]
            if kept == "1/1":
                break
            time.sleep(0.1)
        assert kept == "1/1", table
    finally:
        cli(gw, "disconnect", HRM)
        cli(gw, "policy", "delete", "cli-keep")


def test_sessions_live_table_ends_on_ctrl_c(gw):
    import signal
    watcher = subprocess.Popen([CLI, "sessions"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=dict(os.environ, GATTWAY_ADDRESS=gw.address))
    header = watcher.stdout.readline()
    assert header.split()[:4] == ["TIME", "ADDRESS", "STATE", "FROM"], header
    time.sleep(0.5)
    watcher.send_signal(signal.SIGINT)
    out, err = watcher.communicate(timeout=10)
    assert watcher.returncode == 0, err


def test_disconnect_ends_the_session(gw):
    ok(gw, "connect", "C0:FF:EE:00:00:02")
    assert ok(gw, "disconnect", "C0:FF:EE:00:00:02").strip() == "disconnected C0:FF:EE:00:00:02"
    done = cli(gw, "disconnect", "C0:FF:EE:00:00:02")
    assert done.returncode == 1 and "NOT_FOUND" in done.stderr, done


def test_metrics_prints_figures_by_name(gw):
    table = {r[0]: r[1] for r in rows(ok(gw, "metrics"))}
    assert int(table["scan.results_received"]) > 0, table
    assert table["bluez.up"] == "true", table
    assert any(k.startswith("sessions.sessions{state=") for k in table), table
    assert "gatt" in json.loads(ok(gw, "metrics", "--json"))


def test_policy_commands_create_get_list_resolve_update_and_delete(gw, tmp_path):
    policy = tmp_path / "hrm.yaml"
    policy.write_text("name: cli-hrm\npriority: 5\nselector:\n  addresses: [\"" + HRM + "\"]\n"
                      "reconnect:\n  initial_backoff: 2s\n")
    done = cli(gw, "policy", "create", str(policy))
    assert done.returncode == 0, done
    assert '"name": "cli-hrm"' in done.stdout and '"priority": 5' in done.stdout, done.stdout
    done = cli(gw, "policy", "create", str(policy))  # twice: the gateway's error, explained
    assert done.returncode == 1 and done.stderr.startswith("error: ALREADY_EXISTS: "), done
    assert "reason: POLICY_EXISTS" in done.stderr, done.stderr
    done = cli(gw, "policy", "list")
    assert done.returncode == 0 and "cli-hrm" in done.stdout and "PRIORITY" in done.stdout, done
    done = cli(gw, "--json", "policy", "get", "cli-hrm")
    assert done.returncode == 0 and json.loads(done.stdout)["priority"] == 5, done
    done = cli(gw, "policy", "resolve", HRM)
    assert done.returncode == 0 and done.stdout.startswith("policy: cli-hrm\n"), done.stdout
    assert "CANDIDATE" in done.stdout, done.stdout
    policy.write_text(policy.read_text().replace("priority: 5", "priority: 9"))
    done = cli(gw, "policy", "update", str(policy))
    assert done.returncode == 0 and '"priority": 9' in done.stdout, done
    done = cli(gw, "policy", "delete", "cli-hrm")
    assert done.returncode == 0 and "deleted policy cli-hrm" in done.stdout, done
    done = cli(gw, "policy", "get", "cli-hrm")
    assert done.returncode == 1 and done.stderr.startswith("error: NOT_FOUND: "), done
    assert "reason: POLICY_NOT_FOUND" in done.stderr, done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: hrm\ncolour: red\n")
    done = cli(gw, "policy", "create", str(bad))
    assert done.returncode == 2 and "bad.yaml" in done.stderr and "colour" in done.stderr, done
    done = cli(gw, "policy", "frob")
    assert done.returncode == 2 and "unknown policy command" in done.stderr


def test_peripheral_register_set_value_and_show(gw, tmp_path):
    db = tmp_path / "env.yaml"
    db.write_text(
        "services:\n"
        "  - uuid: \"181A\"\n"
        "    characteristics:\n"
        "      - uuid: \"2A6E\"\n"
        "        read: true\n"
        "        notify: true\n"
        "      - uuid: \"FFF1\"\n"
        "        write: true\n"
        "        capture: true\n")
    out = ok(gw, "peripheral", "register", str(db))
    assert out.startswith("registered on hci0"), out
    assert any(r[:2] == ["181A", "2A6E"] for r in rows(out.split("\n", 1)[1])), out
    out = ok(gw, "peripheral", "set-value", "2A6E", "6608", "--notify")
    assert "= 66 08 (21.50 °C); notified 0 central(s)" in out, out
    value = rows(ok(gw, "peripheral", "get-value", "2A6E"))[0]
    assert value[1:] == ["66 08", "21.50 °C"], value
    assert "advertising default on hci0" in ok(gw, "peripheral", "advertise", "--name=gw-test",
                                               "--service=181A")
    show = ok(gw, "peripheral", "show")
    assert "advertising: default" in show and "21.50 °C" in show, show
    done = cli(gw, "peripheral", "notify", "2A6E", "--central=11:22:33:44:55:66")
    assert done.returncode == 1 and "FAILED_PRECONDITION" in done.stderr, done
    assert "stopped default" in ok(gw, "peripheral", "stop-advertising")
    done = cli(gw, "peripheral", "set-value", "2A99", "01")
    assert done.returncode == 1 and "NOT_FOUND" in done.stderr, done


def test_a_token_is_sent_and_a_missing_one_is_reported(tmp_path):
    token = "cli-operator-token"
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens:\n  - name: cli\n    role: operator\n"
                      f"    sha256: {hashlib.sha256(token.encode()).hexdigest()}\n")
    with Gattwayd("--simulate", f"--tokens_file={tokens}") as g:
        done = cli(g, "adapters")
        assert done.returncode == 1 and "UNAUTHENTICATED" in done.stderr, done
        assert "hci0" in ok(g, "adapters", f"--token={token}")
        assert "hci0" in ok(g, "adapters", env={"GATTWAY_TOKEN": token})


def test_peripheral_writes_and_watch_show_what_a_central_does(tmp_path):
    """A simulated remote central (io.gattway.Sim1, docs/simulator.md) connects to the gateway's
    advertisement and writes a captured characteristic; `peripheral watch` and `peripheral writes`
    print it."""
    import re
    with Gattwayd("--simulate") as g:
        bus_re = re.compile(r'event=simulate\.ready .*\bbus="?([^" ]+)"?')
        bus = next((m.group(1) for m in map(bus_re.search, g.lines) if m), None)
        assert bus, g.log_text()

        def sim(method, signature, *args):
            done = subprocess.run(["busctl", f"--address={bus}", "call", "io.gattway.Sim",
                                   "/io/gattway/sim", "io.gattway.Sim1", method, signature,
                                   *map(str, args)], capture_output=True, text=True, timeout=10)
            assert done.returncode == 0, f"{method}: {done.stderr}"
            return done.stdout.split()

        db = tmp_path / "db.json"
        db.write_text('{"services": [{"uuid": "FFF0", "characteristics": '
                      '[{"uuid": "FFF1", "write": true, "capture": true}]}]}')
        ok(g, "peripheral", "register", str(db))
        ok(g, "peripheral", "advertise", "--name=cli-test")
        env = dict(os.environ, GATTWAY_ADDRESS=g.address)
        watch = subprocess.Popen([CLI, "peripheral", "watch", "--count=1"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
        writes = subprocess.Popen([CLI, "peripheral", "writes", "--count=1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        watch_header = watch.stdout.readline()  # both streams are open
        writes_header = writes.stdout.readline()
        assert watch_header.startswith("TIME") and writes_header.startswith("TIME")
        time.sleep(0.3)
        central = sim("CentralConnect", "ss", "hci0", "11:22:33:44:55:66")[1].strip('"')
        sim("CentralWrite", "ssayb", central, "FFF1", 2, 0xCA, 0xFE, "true")
        out, err = writes.communicate(timeout=15)
        assert writes.returncode == 0, err
        write = rows(writes_header + out)[0]
        assert write[1:] == ["1", "FFF0/FFF1", "11:22:33:44:55:66", "ca fe", ""], out  # no decoding
        out, err = watch.communicate(timeout=15)
        assert watch.returncode == 0, err
        assert re.search(r"central_connected\s+11:22:33:44:55:66", out), out


def test_tls_and_mtls_flags(pki):  # noqa: F811
    with Gattwayd("--simulate", f"--tls_cert={pki}/server.pem", f"--tls_key={pki}/server.key",
                  f"--tls_client_ca={pki}/ca.pem") as g:
        mtls = [f"--tls_ca={pki}/ca.pem", f"--tls_cert={pki}/client.pem",
                f"--tls_key={pki}/client.key"]
        assert "hci0" in ok(g, "adapters", *mtls)
        # Without a client certificate the handshake fails; in plaintext too.
        for args in ([f"--tls_ca={pki}/ca.pem"], []):
            done = cli(g, "adapters", "--timeout=3s", *args)
            assert done.returncode == 1 and "UNAVAILABLE" in done.stderr, (args, done)
        done = cli(g, "adapters", f"--tls_ca={pki}/missing.pem")
        assert done.returncode == 2 and "missing.pem: cannot read the file" in done.stderr, done
