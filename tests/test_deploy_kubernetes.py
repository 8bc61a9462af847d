"""deploy/kubernetes/: the manifests checked as Kubernetes would read them, without a cluster.

Every document parses and is a kind the example means; the Deployment probes
routes the gateway serves without an API key; its stop fits in the grace
period; every setting it names is one config.py reads, and every secret comes
from a Secret, never from the manifest; the Services find their pods by the
labels and port names those pods carry.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from gpt2giga import cli, config
from gpt2giga.app import App

ROOT = Path(__file__).resolve().parent.parent
KUBE = ROOT / "deploy" / "kubernetes"
KINDS = {"Deployment", "Service", "PodDisruptionBudget"}


def documents(name: str) -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((KUBE / name).read_text()) if d]
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc
        assert doc["kind"] in KINDS
    found = {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}
    assert len(found) == len(docs), "two documents of one kind share a name"
    return found


@pytest.fixture(scope="module")
def gateway() -> dict[str, dict[str, Any]]:
    return documents("gpt2giga.yaml")


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [found] = deployment["spec"]["template"]["spec"]["containers"]
    c: dict[str, Any] = found
    return c


def fields() -> dict[str, Any]:
    out = {}
    for section, _, cls in config.PREFIXES:
        hints = typing.get_type_hints(cls, globalns=vars(config))
        for field in msgspec.structs.fields(cls):
            out[config.env_name(section, field.name)] = (section, field.name, hints[field.name])
    return out


def public(path: str) -> bool:
    """Whether the PROD gateway serves `path` to a caller without the API key."""
    settings = config.load(
        {"GIGACHAT_CREDENTIALS": "x", "GPT2GIGA_MODE": "PROD", "GPT2GIGA_API_KEY": "k"}
    )
    route = App(settings).router.match(path, "GET").route
    return route is not None and route.public


def test_the_gateway_manifest_has_a_deployment_a_service_and_a_disruption_budget(
    gateway: dict[str, dict[str, Any]],
) -> None:
    assert set(gateway) == {
        "Deployment/gpt2giga",
        "Service/gpt2giga",
        "PodDisruptionBudget/gpt2giga",
    }
    assert gateway["Deployment/gpt2giga"]["spec"]["replicas"] >= 2


def test_probes_ask_public_routes_on_the_named_port(gateway: dict[str, dict[str, Any]]) -> None:
    c = container(gateway["Deployment/gpt2giga"])
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert public(c[probe]["httpGet"]["path"]), "a probe must not need the API key"
        assert c[probe]["httpGet"]["port"] in ports
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert ports["http"] == int(env["GPT2GIGA_PORT"]) and env["GPT2GIGA_HOST"] == "0.0.0.0"


def test_a_stop_fits_in_the_grace_period(gateway: dict[str, dict[str, Any]]) -> None:
    """preStop, then SIGTERM: streams finish within the shutdown timeout, then Granian's grace."""
    spec = gateway["Deployment/gpt2giga"]["spec"]["template"]["spec"]
    c = container(gateway["Deployment/gpt2giga"])
    command = c["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    env = {e["name"]: e.get("value") for e in c["env"]}
    shutdown = float(env["GPT2GIGA_SHUTDOWN_TIMEOUT_SECONDS"])
    needed = int(command[1]) + shutdown + cli.KILL_GRACE_S
    assert spec["terminationGracePeriodSeconds"] > needed


def test_every_setting_exists_parses_and_every_secret_comes_from_a_secret(
    gateway: dict[str, dict[str, Any]],
) -> None:
    known = fields()
    values: dict[str, str] = {}
    from_secrets = set()
    for item in container(gateway["Deployment/gpt2giga"])["env"]:
        name = item["name"]
        assert name in known, f"{name} is no setting of the gateway"
        section, field, tp = known[name]
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "gpt2giga", "key": name}
            from_secrets.add(name)
            continue
        assert not config.is_secret(section, field), f"{name} is a secret: use a Secret"
        config.parse_value(name, item["value"], tp)
        values[name] = item["value"]
    assert from_secrets == {"GIGACHAT_CREDENTIALS", "GPT2GIGA_API_KEY", "GPT2GIGA_REDIS_URL"}
    # With the secrets the header's command creates, the gateway starts with these.
    secrets = {
        "GIGACHAT_CREDENTIALS": "a2V5",
        "GPT2GIGA_API_KEY": "k",
        "GPT2GIGA_REDIS_URL": "redis://:pw@redis:6379/0",
    }
    settings = config.load({**values, **secrets})
    assert settings.proxy.mode == "PROD" and settings.proxy.redis_url is not None


def test_the_documented_secret_names_every_key_the_deployment_reads(
    gateway: dict[str, dict[str, Any]],
) -> None:
    text = (KUBE / "gpt2giga.yaml").read_text()
    created = set(re.findall(r"--from-literal=(\w+)=", text))
    read = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for e in container(gateway["Deployment/gpt2giga"])["env"]
        if "valueFrom" in e
    }
    assert created == read


def test_the_pod_runs_as_the_images_unprivileged_user(gateway: dict[str, dict[str, Any]]) -> None:
    spec = gateway["Deployment/gpt2giga"]["spec"]["template"]["spec"]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    uid = re.search(r"useradd [^\n]*--uid (\d+)", dockerfile)
    assert uid is not None and spec["securityContext"]["runAsUser"] == int(uid[1])
    c = container(gateway["Deployment/gpt2giga"])
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp"}


@pytest.mark.parametrize("name", ["gpt2giga.yaml", "redis.yaml"])
def test_services_find_their_pods_by_label_and_port_name(name: str) -> None:
    docs = documents(name)
    [deployment] = [d for k, d in docs.items() if k.startswith("Deployment/")]
    [service] = [d for k, d in docs.items() if k.startswith("Service/")]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {p["name"] for p in container(deployment)["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    for budget in (d for k, d in docs.items() if k.startswith("PodDisruptionBudget/")):
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_example_redis_is_where_the_documented_url_points() -> None:
    redis = documents("redis.yaml")
    url = re.search(
        r"GPT2GIGA_REDIS_URL='redis://[^@]*@([\w.-]+):(\d+)/", (KUBE / "gpt2giga.yaml").read_text()
    )
    assert url is not None
    service = redis[f"Service/{url[1]}"]
    assert [p["port"] for p in service["spec"]["ports"]] == [int(url[2])]
    c = container(redis["Deployment/redis"])
    password = next(e for e in c["env"] if e["name"] == "REDIS_PASSWORD")
    assert "secretKeyRef" in password["valueFrom"]
    assert c["args"][:2] == ["--requirepass", "$(REDIS_PASSWORD)"]
