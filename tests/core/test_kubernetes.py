"""deploy/kubernetes: every manifest valid against the Kubernetes API schema (kubernetes-validate,
offline schemas), and consistent with Vigil: the site config in the ConfigMap loads, workers
probe /healthz and /readyz on `vigil run --http`, every secret they read exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from vigil.config.site import SiteConfig

K8S = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
VERSION = "1.30.0"


def docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def manifests() -> list[tuple[str, dict]]:
    return [(p.name, d) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml" for d in docs(p.name)]


def by_kind(kind: str, name: str) -> dict:
    return next(d for _, d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize("file,doc", manifests(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_manifest_is_valid_kubernetes(file, doc):
    kv = pytest.importorskip("kubernetes_validate")
    kv.validate(doc, VERSION, strict=True)  # raises ValidationError naming the bad field


def test_kustomization_lists_every_manifest_but_the_secret_example():
    listed = set(docs("kustomization.yaml")[0]["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == present


def test_workers_share_cameras_and_are_probed_on_the_health_routes():
    site = SiteConfig.model_validate(yaml.safe_load(by_kind("ConfigMap", "vigil-site")["data"]["site.yaml"]))
    assert site.live.leases.enabled and site.live.max_cameras
    assert site.retention.events_days and site.retention.hourly_days > site.retention.events_days
    pod = by_kind("Deployment", "vigil-worker")["spec"]["template"]["spec"]
    worker = pod["containers"][0]
    assert worker["args"][:2] == ["run", "/config/site.yaml"] and "--http" in worker["args"]
    assert worker["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert worker["resources"]["requests"]["cpu"] and worker["resources"]["requests"]["memory"]
    assert pod["initContainers"][0]["args"] == ["db", "upgrade"]
    # SIGTERM flushes and releases leases: the grace period must cover a flush with a slow database.
    assert pod["terminationGracePeriodSeconds"] >= 30


def test_every_secret_read_is_in_the_secret():
    keys = set(by_kind("Secret", "vigil-secrets")["stringData"])
    text = "\n".join(p.read_text() for p in K8S.glob("*.yaml"))
    files = set(re.findall(r"\$\{file:/run/secrets/vigil/([\w.-]+)\}", text))
    refs = set(re.findall(r"key: ([\w.-]+)\}", text))
    assert files and files | refs <= keys
    for _, d in manifests():
        for vol in d.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", []):
            if "secret" in vol:
                assert vol["secret"]["secretName"] == "vigil-secrets"
    assert "password" not in str(by_kind("Deployment", "vigil-worker")["spec"]["template"]["spec"]["containers"][0]
                                 .get("env", [])).replace("db-password", "")
