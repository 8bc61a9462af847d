"""deploy/*.yaml, nginx and Traefik configurations: what `docker compose up` would make of them.

No Docker engine runs here. Each compose file is validated against the Compose
Specification's JSON schema (shipped by check-jsonschema); then the files are
merged, interpolated and filtered by profile as Compose does (tests/compose.py)
and the result is checked for meaning: every command the docs print starts a
valid project, every setting a file gives the gateway exists and parses, the
overlays point the gateway at the very service and port they start, and the
reverse proxies forward streams unbuffered to the gateway's alias and port.
"""

from __future__ import annotations

import json
import re
import tomllib
import typing
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
import yaml

from gpt2giga import app, config
from tests import compose

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE_FILES = sorted(DEPLOY.glob("*.yaml"))
OVERLAYS = [p for p in COMPOSE_FILES if p.name != "base.yaml"]
GATEWAYS = {"gpt2giga-dev", "gpt2giga-prod"}
DOCS = [ROOT / "README.md", DEPLOY / "README.md", *COMPOSE_FILES]
# A .env for the checks: what `${...:?}` requires, nothing else.
ENV = {"GPT2GIGA_API_KEY": "k"}


def settings_fields() -> dict[str, Any]:
    """GPT2GIGA_* / GIGACHAT_* name -> the type config.py reads it as."""
    out = {}
    for section, _, cls in config.PREFIXES:
        hints = typing.get_type_hints(cls, globalns=vars(config))
        for field in msgspec.structs.fields(cls):
            out[config.env_name(section, field.name)] = hints[field.name]
    return out


def compose_only() -> set[str]:
    """The variables deploy/README.md's table lists as Compose's own, not the gateway's."""
    text = (DEPLOY / "README.md").read_text()
    section = text.split("### Compose-only variables", 1)[1].split("\n#", 1)[0]
    return {
        name
        for row in section.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`(\w+)`", row.split("|")[1])
    }


def project(*names: str) -> dict[str, Any]:
    return compose.merge([DEPLOY / n for n in names])


def started(names: list[str], profiles: set[str], env: dict[str, str] = ENV) -> dict[str, Any]:
    return compose.interpolate(compose.active(project(*names), profiles), env)


def gateway(services: dict[str, Any]) -> dict[str, Any]:
    [name] = GATEWAYS & set(services)
    svc: dict[str, Any] = services[name]
    return svc


# --- every file ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> jsonschema.protocols.Validator:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    spec = json.loads(vendor.joinpath("compose-spec.json").read_text())
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(spec)
    return validator


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_compose_file_follows_the_compose_specification(
    path: Path, schema: jsonschema.protocols.Validator
) -> None:
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in schema.iter_errors(compose.load(path))
    ]
    assert errors == []


def test_the_fastapi_versions_file_names_are_all_here() -> None:
    assert {p.name for p in COMPOSE_FILES} >= {
        "base.yaml",
        "postgres.yaml",
        "opensearch.yaml",
        "nginx.yaml",
        "traefik.yaml",
    }


def documented_commands() -> list[tuple[str, list[str]]]:
    return [
        (f"{doc.relative_to(ROOT)}: {' '.join(argv)}", argv)
        for doc in DOCS
        for argv in compose.commands(doc.read_text())
    ]


@pytest.mark.parametrize(
    "argv", [a for _, a in documented_commands()], ids=[i for i, _ in documented_commands()]
)
def test_every_documented_command_starts_one_gateway(argv: list[str]) -> None:
    files, profiles = compose.invocation(argv)
    assert "--env-file" in argv, "the quick start reads .env for interpolation too"
    assert files and files[0] == "deploy/base.yaml"
    for name in files:
        assert (ROOT / name).is_file(), name
    services = compose.active(compose.merge([ROOT / f for f in files]), profiles)
    assert len(GATEWAYS & set(services)) == 1
    for profile in profiles:  # a profile nobody carries is a typo Compose does not report
        assert any(profile in s.get("profiles", ()) for s in services.values()), profile


def test_the_fastapi_quick_start_is_documented_unchanged() -> None:
    quick = "docker compose --env-file .env -f deploy/base.yaml --profile DEV up -d"
    assert quick in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_interpolated_variable_is_a_setting_or_documented(path: Path) -> None:
    names = compose.variables(path.read_text())
    unknown = names - set(settings_fields()) - compose_only()
    assert unknown == set()


def test_compose_only_variables_are_not_mistaken_for_settings() -> None:
    assert compose_only()
    assert compose_only().isdisjoint(settings_fields())
    example = (ROOT / ".env.example").read_text()
    for name in compose_only():
        assert f"# {name}=" in example, f".env.example does not show {name}"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_setting_given_to_the_gateway_exists_and_parses(path: Path) -> None:
    fields = settings_fields()
    for name, svc in compose.interpolate(project(path.name)["services"], ENV).items():
        env = svc.get("environment", {})
        if name not in GATEWAYS:
            assert not [k for k in env if k.startswith(("GPT2GIGA_", "GIGACHAT_"))], name
            continue
        assert env, f"{path.name} changes {name} but gives it no settings"
        for key, value in env.items():
            assert key in fields, f"{path.name}: {key} is no setting of the gateway"
            config.parse_value(key, str(value), fields[key])


@pytest.mark.parametrize("path", OVERLAYS, ids=lambda p: p.name)
def test_overlays_never_set_build_arguments(path: Path) -> None:
    """The image's extras are one list in base.yaml: an overlay setting its own would
    overwrite another's when both are used (the FastAPI version's INSTALL_EXTRAS)."""
    for svc in project(path.name)["services"].values():
        assert "build" not in svc


@pytest.mark.parametrize("path", OVERLAYS, ids=lambda p: p.name)
def test_overlay_services_start_only_with_their_profile(path: Path) -> None:
    profile = path.stem
    for name, svc in project(path.name)["services"].items():
        if name not in GATEWAYS:
            assert svc["profiles"] == [profile], name
            assert svc["image"].split(":")[1], f"{name}: pin at least a major version"


def test_every_file_a_service_mounts_exists() -> None:
    for path in COMPOSE_FILES:
        for svc in project(path.name)["services"].values():
            for volume in svc.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("."):
                    assert (DEPLOY / source).exists(), f"{path.name}: {source}"


# --- base.yaml ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "mode"), [("DEV", "DEV"), ("dev", "DEV"), ("PROD", "PROD"), ("prod", "PROD")]
)
def test_each_mode_profile_builds_this_repository(profile: str, mode: str) -> None:
    svc = gateway(started(["base.yaml"], {profile}))
    assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
    assert [e["path"] for e in svc["env_file"]] == ["../.env"]
    assert svc["environment"]["GPT2GIGA_MODE"] == mode
    assert svc["environment"]["GPT2GIGA_HOST"] == "0.0.0.0"
    assert svc["networks"]["default"]["aliases"] == ["gpt2giga"]


def test_the_container_port_is_fixed_and_the_host_port_follows_the_setting() -> None:
    dev = gateway(started(["base.yaml"], {"DEV"}, {**ENV, "GPT2GIGA_PORT": "9000"}))
    prod = gateway(started(["base.yaml"], {"PROD"}, {**ENV, "GPT2GIGA_PORT": "9000"}))
    assert dev["environment"]["GPT2GIGA_PORT"] == 8090
    assert dev["ports"] == ["9000:8090"]
    assert prod["ports"] == ["127.0.0.1:9000:8090"]
    assert gateway(started(["base.yaml"], {"DEV"}))["ports"] == ["8090:8090"]


def test_prod_refuses_to_start_without_the_api_key() -> None:
    with pytest.raises(compose.InterpolationError, match="GPT2GIGA_API_KEY"):
        started(["base.yaml"], {"PROD"}, {})
    prod = gateway(started(["base.yaml"], {"PROD"}, {"GPT2GIGA_API_KEY": "s3cret"}))
    assert prod["environment"]["GPT2GIGA_API_KEY"] == "s3cret"
    assert prod["read_only"] is True and prod["cap_drop"] == ["ALL"]


def extras(services: dict[str, Any]) -> list[str]:
    value = gateway(services)["build"]["args"]["EXTRAS"]
    return [e.strip() for e in str(value).split(",") if e.strip()]


def test_the_image_extras_are_one_list_that_the_env_file_may_change() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set(declared["optional-dependencies"]) - {"dev"}
    every_overlay = [p.name for p in COMPOSE_FILES]
    every_profile = {"DEV", *(p.stem for p in OVERLAYS)}
    default = extras(started(every_overlay, every_profile))
    assert "postgres" in default
    assert set(default) <= names, "EXTRAS names an extra pyproject.toml does not have"
    chosen = started(every_overlay, every_profile, {**ENV, "EXTRAS": "postgres,otel"})
    assert extras(chosen) == ["postgres", "otel"]
    none = started(["base.yaml"], {"DEV"}, {**ENV, "EXTRAS": ""})  # set, but empty: none
    assert extras(none) == []


# --- postgres.yaml and opensearch.yaml -----------------------------------------------------


def dsn_parts(dsn: str) -> dict[str, str]:
    found = re.fullmatch(
        r"postgresql://(?P<user>[^:]+):(?P<password>[^@]+)@(?P<host>[^:/]+):(?P<port>\d+)/(?P<db>\w+)",
        dsn,
    )
    assert found is not None, dsn
    return found.groupdict()


@pytest.mark.parametrize("mode", ["DEV", "PROD"])
@pytest.mark.parametrize(
    "env",
    [
        ENV,
        {
            **ENV,
            "GPT2GIGA_POSTGRES_USER": "u",
            "GPT2GIGA_POSTGRES_PASSWORD": "p",
            "GPT2GIGA_POSTGRES_DB": "d",
        },
    ],
)
def test_postgres_points_the_gateway_at_the_database_it_starts(
    mode: str, env: dict[str, str]
) -> None:
    services = started(["base.yaml", "postgres.yaml"], {mode, "postgres"}, env)
    gw, db = gateway(services), services["postgres"]
    assert gw["environment"]["GPT2GIGA_TRAFFIC_LOG_ENABLED"] == "true"
    assert gw["environment"]["GPT2GIGA_TRAFFIC_LOG_SINK"] == "postgres"
    dsn = dsn_parts(gw["environment"]["GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN"])
    assert dsn == {
        "user": db["environment"]["POSTGRES_USER"],
        "password": db["environment"]["POSTGRES_PASSWORD"],
        "host": "postgres",
        "port": "5432",
        "db": db["environment"]["POSTGRES_DB"],
    }
    assert gw["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["ports"] == ["127.0.0.1:5432:5432"]
    assert "postgres" in extras(services)


def test_the_database_keeps_its_data_in_the_fastapi_versions_volume() -> None:
    merged = project("base.yaml", "postgres.yaml")
    assert "gpt2giga-postgres-data" in merged["volumes"]
    assert merged["services"]["postgres"]["volumes"] == [
        "gpt2giga-postgres-data:/var/lib/postgresql/data"
    ]


def test_the_healthcheck_reads_the_containers_own_variables() -> None:
    db = started(["base.yaml", "postgres.yaml"], {"DEV", "postgres"})["postgres"]
    # `$$` leaves `$` for the container's shell, where POSTGRES_USER is set.
    assert '"$POSTGRES_USER"' in db["healthcheck"]["test"][1]


def test_opensearch_mirrors_postgres_and_waits_for_both() -> None:
    files = ["base.yaml", "postgres.yaml", "opensearch.yaml"]
    services = started(files, {"DEV", "postgres", "opensearch"})
    gw, search = gateway(services), services["opensearch"]
    env = gw["environment"]
    sinks = config.parse_value(
        "GPT2GIGA_TRAFFIC_LOG_SINKS", env["GPT2GIGA_TRAFFIC_LOG_SINKS"], list[str]
    )
    assert sinks == ["postgres", "opensearch"]
    assert env["GPT2GIGA_OPENSEARCH_URL"] == "http://opensearch:9200"
    assert search["ports"] == ["127.0.0.1:9200:9200"]
    assert env["GPT2GIGA_TRAFFIC_LOG_POSTGRES_DSN"].startswith("postgresql://")
    assert set(gw["depends_on"]) == {"postgres", "opensearch"}
    assert all(d["condition"] == "service_healthy" for d in gw["depends_on"].values())
    assert search["environment"]["DISABLE_SECURITY_PLUGIN"] == "true"
    assert "_cluster/health" in search["healthcheck"]["test"][1]
    # OpenSearch is written over the gateway's own HTTP client: no extra for it.
    assert extras(services) == [
        "postgres",
        "otel",
        "redis",
    ]  # the default list; nothing for OpenSearch


def test_opensearch_settings_pass_through_from_the_env_file() -> None:
    env = {**ENV, "GPT2GIGA_OPENSEARCH_INDEX": "audit", "GPT2GIGA_OPENSEARCH_DATA_STREAM": "false"}
    gw = gateway(
        started(
            ["base.yaml", "postgres.yaml", "opensearch.yaml"],
            {"PROD", "postgres", "opensearch"},
            env,
        )
    )
    assert gw["environment"]["GPT2GIGA_OPENSEARCH_INDEX"] == "audit"
    assert gw["environment"]["GPT2GIGA_OPENSEARCH_DATA_STREAM"] == "false"


# --- replicas.yaml --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["DEV", "PROD"])
def test_replicas_share_the_redis_they_start_and_publish_no_port_of_their_own(mode: str) -> None:
    files = ["base.yaml", "replicas.yaml", "nginx.yaml"]
    services = started(files, {mode, "replicas", "nginx"})
    gw, redis = gateway(services), services["redis"]
    assert gw["ports"] == []  # several replicas cannot publish one port: nginx is the door
    assert int(gw["deploy"]["replicas"]) == 3
    assert gw["networks"]["default"]["aliases"] == ["gpt2giga"]  # what nginx forwards to
    url = gw["environment"]["GPT2GIGA_REDIS_URL"]
    assert url == "redis://redis:6379/0"
    settings = config.load({"GIGACHAT_CREDENTIALS": "x", "GPT2GIGA_REDIS_URL": url, **ENV})
    assert settings.proxy.redis_url is not None
    assert gw["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "ports" not in redis  # reached on the compose network only
    assert "redis" in extras(services)
    assert services["nginx"]["ports"] == ["80:80"]


def test_the_number_of_replicas_comes_from_the_env_file() -> None:
    env = {**ENV, "GPT2GIGA_REPLICAS": "5"}
    gw = gateway(started(["base.yaml", "replicas.yaml"], {"PROD", "replicas"}, env))
    assert int(gw["deploy"]["replicas"]) == 5


def test_without_the_replicas_overlay_the_gateway_keeps_its_port_and_memory_state() -> None:
    gw = gateway(started(["base.yaml", "nginx.yaml"], {"PROD", "nginx"}))
    assert gw["ports"] == ["127.0.0.1:8090:8090"]
    assert "GPT2GIGA_REDIS_URL" not in gw["environment"]


# --- nginx ----------------------------------------------------------------------------------


def nginx_directives(text: str) -> list[tuple[tuple[str, ...], str, list[str]]]:
    """(enclosing blocks, directive, arguments) for every directive of an nginx config."""
    tokens = re.findall(r'"[^"]*"|\'[^\']*\'|[{};]|[^\s{};]+', re.sub(r"#[^\n]*", "", text))
    found: list[tuple[tuple[str, ...], str, list[str]]] = []
    stack: list[str] = []
    words: list[str] = []
    for token in tokens:
        if token == "{":
            stack.append(" ".join(words))
            words = []
        elif token == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        elif token == ";":
            found.append((tuple(stack), words[0], words[1:]))
            words = []
        else:
            words.append(token)
    assert not stack and not words, "unbalanced braces or a missing semicolon"
    return found


@pytest.fixture(scope="module")
def nginx() -> dict[str, list[str]]:
    nginx_svc = project("base.yaml", "nginx.yaml")["services"]["nginx"]
    [mount] = nginx_svc["volumes"]
    source, target, _ = mount.split(":")
    assert target == "/etc/nginx/conf.d/default.conf"
    directives = nginx_directives((DEPLOY / source).read_text())
    location = {d: args for blocks, d, args in directives if blocks == ("server", "location /")}
    server = {d: args for blocks, d, args in directives if blocks == ("server",)}
    return {**{f"server.{k}": v for k, v in server.items()}, **location}


def seconds(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([smh]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "s": 1, "m": 60, "h": 3600}[unit]


def test_nginx_passes_streams_through_unbuffered(nginx: dict[str, list[str]]) -> None:
    assert nginx["proxy_buffering"] == ["off"]
    assert nginx["proxy_request_buffering"] == ["off"]
    assert nginx["proxy_cache"] == ["off"]
    assert nginx["proxy_max_temp_file_size"] == ["0"]
    assert nginx["add_header"] == ["X-Accel-Buffering", "no", "always"]
    assert nginx["proxy_http_version"] == ["1.1"]
    timeout = config.GigaChatSettings().timeout
    assert seconds(nginx["proxy_read_timeout"][0]) > timeout
    assert seconds(nginx["proxy_send_timeout"][0]) > timeout


def test_nginx_forwards_to_the_gateways_alias_and_port(nginx: dict[str, list[str]]) -> None:
    [variable, target] = nginx["server.set"]
    assert nginx["proxy_pass"] == [variable]
    assert target == "http://gpt2giga:8090"
    # A variable target is resolved per request, by Docker's DNS.
    assert nginx["server.resolver"][0] == "127.0.0.11"
    client_max = nginx["server.client_max_body_size"][0]
    assert (
        int(client_max.rstrip("m")) * 1024 * 1024 >= config.ProxySettings().max_request_body_bytes
    )


def test_nginx_sets_the_forwarding_headers() -> None:
    # proxy_set_header repeats, so the fixture's one-value-per-name view cannot hold it.
    text = (DEPLOY / "nginx" / "gpt2giga.conf").read_text()
    headers = {args[0]: args[1] for _, d, args in nginx_directives(text) if d == "proxy_set_header"}
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["Connection"] == '""'
    assert headers["Host"] == "$host"


# --- Traefik --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def traefik() -> tuple[dict[str, Any], dict[str, Any]]:
    svc = project("base.yaml", "traefik.yaml")["services"]["traefik"]
    mounts = {
        target: DEPLOY / source for source, target, _ in (v.split(":") for v in svc["volumes"])
    }
    static = yaml.safe_load(mounts["/etc/traefik/traefik.yml"].read_text())
    dynamic_path = static["providers"]["file"]["filename"]
    assert dynamic_path in mounts, "the file provider reads a file the container does not have"
    return static, yaml.safe_load(mounts[dynamic_path].read_text())


def test_traefik_routes_every_path_to_the_gateways_alias(
    traefik: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    static, dynamic = traefik
    [router] = dynamic["http"]["routers"].values()
    assert set(router["entryPoints"]) <= set(static["entryPoints"])
    service = dynamic["http"]["services"][router["service"]]["loadBalancer"]
    assert service["servers"] == [{"url": "http://gpt2giga:8090"}]
    health = service["healthCheck"]["path"]
    route = app.App(config.load({"GIGACHAT_CREDENTIALS": "x"})).router.match(health, "GET").route
    assert route is not None and route.public, "the probe must not need the API key"


def test_traefik_flushes_streams_and_never_cuts_a_long_answer(
    traefik: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    static, dynamic = traefik
    service = next(iter(dynamic["http"]["services"].values()))["loadBalancer"]
    assert service["responseForwarding"]["flushInterval"] == "-1"
    transport = dynamic["http"]["serversTransports"][service["serversTransport"]]
    assert transport["forwardingTimeouts"]["responseHeaderTimeout"] == "0s"
    for entry in static["entryPoints"].values():
        assert entry["transport"]["respondingTimeouts"]["writeTimeout"] == "0s"
    assert "middlewares" not in dynamic["http"], "a buffering middleware would hold streams"


def test_traefik_healthcheck_uses_the_ping_it_enables(
    traefik: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    static, _ = traefik
    svc = project("base.yaml", "traefik.yaml")["services"]["traefik"]
    assert "ping" in static
    assert svc["healthcheck"]["test"] == ["CMD", "traefik", "healthcheck", "--ping"]


# --- phoenix.yaml --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["DEV", "PROD"])
def test_phoenix_gets_the_gateways_traces_over_otlp_http(mode: str) -> None:
    from gpt2giga.observe import otlp

    services = started(["base.yaml", "phoenix.yaml"], {mode, "phoenix"})
    gw, phoenix = gateway(services), services["phoenix"]
    env = gw["environment"]
    assert env["GPT2GIGA_OBSERVABILITY_ENABLED"] == "true"
    assert env["GPT2GIGA_OBSERVABILITY_SAMPLE_RATE"] == "1.0"
    assert gw["depends_on"] == {"phoenix": {"condition": "service_started"}}
    # Where the gateway sends is the port Phoenix serves OTLP/HTTP on, in the container.
    settings = config.load({**{k: str(v) for k, v in env.items()}, "GIGACHAT_CREDENTIALS": "x"})
    where = otlp.target(settings)
    assert where.url == "http://phoenix:6006/v1/traces" and not where.grpc
    assert "127.0.0.1:6006:6006" in phoenix["ports"]
    assert "otel" in extras(services)  # the SDK the tracer imports is in the image


def test_phoenix_sample_rate_comes_from_the_env_file() -> None:
    env = {**ENV, "GPT2GIGA_OBSERVABILITY_SAMPLE_RATE": "0.1"}
    services = started(["base.yaml", "phoenix.yaml"], {"DEV", "phoenix"}, env)
    assert gateway(services)["environment"]["GPT2GIGA_OBSERVABILITY_SAMPLE_RATE"] == "0.1"
