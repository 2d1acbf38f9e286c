"""Offline checks of docker-compose.yml, .env.example, deploy/Dockerfile and deploy/k8s.

There is no Docker engine or cluster here, so the files are checked the way a reviewer would:
against the published schemas (Compose Specification; Kubernetes and KEDA schemas vendored in
deploy/schemas) and against the rules the architecture depends on (exactly one beat, a worker and a
ScaledObject for every queue, Redis `noeviction`, non-root containers, documented variables). The
two helpers shipped in the image (gunicorn.conf.py, healthcheck.py) are exercised for real.
"""

from __future__ import annotations

import copy
import functools
import http.server
import importlib.resources
import importlib.util
import itertools
import json
import re
import shlex
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from possync.models.tables import PosKind
from possync.worker.routing import CRM_QUEUES, INTAKE_QUEUE, POLL_QUEUE, queue_for_pos
from possync.worker.settings import SettingsError, load_settings
from tests.resilience.servers import running_sentinel_group

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = ROOT / "deploy" / "schemas"
ALL_QUEUES = {INTAKE_QUEUE, POLL_QUEUE, *(kind.queue for kind in PosKind), *CRM_QUEUES}
WORKER_PING = "celery -A possync.worker.celery_app inspect ping -d"
# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`; `$$` is a literal `$`.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# --- loading ------------------------------------------------------------------------------------


def compose_text() -> str:
    return COMPOSE.read_text()


def load_compose(text: str | None = None) -> dict[str, Any]:
    return yaml.load(compose_text() if text is None else text, Loader=YAML_LOADER)


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example line is not NAME=value: {line!r}"
            values[name.strip()] = value
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation, enough for this file (no nesting)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if op == ":-":  # default when unset or empty
            return value or arg
        if op == "-":  # default when unset
            return arg if value is None else value
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise AssertionError(f"compose would refuse to start: {name}: {arg}")
        return value or ""

    return INTERPOLATION.sub(replace, text)


def compose_validator() -> Draft202012Validator:
    """The Compose Specification schema as built into check-jsonschema (vendor.compose-spec)."""
    resource = importlib.resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return Draft202012Validator(json.loads(resource.read_text()))


def manifest_validator() -> Draft202012Validator:
    """deploy/schemas/manifest.schema.json with its sibling files resolvable by relative reference."""
    resources = [
        (path.as_uri(), Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT202012))
        for path in sorted(SCHEMAS.glob("*.json"))
    ]
    registry = Registry().with_resources(resources)
    return Draft202012Validator({"$ref": (SCHEMAS / "manifest.schema.json").as_uri()}, registry=registry)


def errors(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(instance)]


def manifest_files() -> list[Path]:
    return sorted(K8S.rglob("*.yaml"))


def applied_files() -> list[Path]:
    """What `kubectl apply -f deploy/k8s/` applies (not recursive: templates/ and examples/ are left out)."""
    return sorted(K8S.glob("*.yaml"))


def load_manifest(path: Path) -> dict[str, Any]:
    """The one object in `path` (a fresh copy: tests may change it)."""
    return copy.deepcopy(_parse_manifest(path))


@functools.cache
def _parse_manifest(path: Path) -> dict[str, Any]:
    docs = [doc for doc in yaml.load_all(path.read_text(), Loader=YAML_LOADER) if doc is not None]
    assert len(docs) == 1, f"{path.name}: one object per file (check-jsonschema validates one document)"
    return docs[0]


def objects(paths: list[Path] | None = None) -> list[dict[str, Any]]:
    return [load_manifest(p) for p in (applied_files() if paths is None else paths)]


def of_kind(kind: str, paths: list[Path] | None = None) -> list[dict[str, Any]]:
    return [obj for obj in objects(paths) if obj["kind"] == kind]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def command_of(container: dict[str, Any]) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def queues_consumed(argv: list[str]) -> set[str]:
    """Queues a worker command line consumes: `possync worker --pos/--tenant/--queue` or `celery ... -Q a,b`."""
    if argv[:2] == ["possync", "worker"]:
        queues = set()
        for flag, value in itertools.pairwise(argv):
            if flag == "--pos":
                queues.add(queue_for_pos(value))
            elif flag == "--tenant":
                queues.add(f"tenant.{value}")
            elif flag == "--queue":
                queues.add(value)
        return queues
    if argv[:1] == ["celery"] and "worker" in argv and "-Q" in argv:
        return set(argv[argv.index("-Q") + 1].split(","))
    return set()


def possync_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run the possync image."""
    image = compose["x-possync-image"]["image"]
    return {name: svc for name, svc in compose["services"].items() if svc.get("image") == image}


# --- docker-compose.yml -------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    assert errors(compose_validator(), load_compose()) == []


def test_compose_file_still_matches_after_interpolation_with_env_example() -> None:
    text = interpolate(compose_text(), env_example())
    assert "${" not in text
    assert errors(compose_validator(), load_compose(text)) == []


def test_compose_schema_check_rejects_a_misspelt_key() -> None:
    """Guard against a vacuous check: the same validator must fail a broken copy."""
    broken = load_compose()
    broken["services"]["beat"]["healthchek"] = broken["services"]["beat"].pop("healthcheck")
    assert any("healthchek" in e for e in errors(compose_validator(), broken))


def test_redis_never_evicts_and_persists_its_queues() -> None:
    command = load_compose()["services"]["redis"]["command"]
    argv = shlex.split(command) if isinstance(command, str) else command
    assert argv[argv.index("--maxmemory-policy") + 1] == "noeviction"
    assert argv[argv.index("--appendonly") + 1] == "yes"


def test_compose_runs_exactly_one_beat() -> None:
    services = load_compose()["services"]
    beats = [name for name, svc in services.items() if svc.get("command", [])[:2] == ["possync", "beat"]]
    assert beats == ["beat"]
    assert services["beat"]["deploy"]["replicas"] == 1


def test_compose_has_a_worker_for_every_queue() -> None:
    services = load_compose()["services"]
    consumed: dict[str, list[str]] = {}
    for name, svc in services.items():
        for queue in queues_consumed(svc.get("command", [])):
            consumed.setdefault(queue, []).append(name)
    assert set(consumed) == ALL_QUEUES
    for kind in PosKind:  # one service per POS queue, so each scales on its own
        assert len(consumed[kind.queue]) == 1 and consumed[kind.queue][0] == f"worker-{kind.value}"


def test_app_services_wait_for_a_successful_migration() -> None:
    compose = load_compose()
    services = possync_services(compose)
    assert services["migrate"]["command"] == ["possync", "db", "upgrade"]
    for name, svc in services.items():
        if name == "migrate":
            continue
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy", name


def test_every_long_running_service_has_a_health_check() -> None:
    services = load_compose()["services"]
    for name, svc in services.items():
        if name == "migrate":
            continue
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert not svc["healthcheck"].get("disable"), name
    for name, svc in services.items():
        if name.startswith("worker-"):
            test = " ".join(svc["healthcheck"]["test"])
            # `$$` is compose's escape: the shell in the container sees `$HOSTNAME`, the worker's node name.
            assert WORKER_PING in test and "celery@$$HOSTNAME" in test, name
    assert "/healthz" in " ".join(services["receiver"]["healthcheck"]["test"])


def test_receiver_runs_under_gunicorn_on_port_8000() -> None:
    receiver = load_compose()["services"]["receiver"]
    assert receiver["command"][0] == "gunicorn" and receiver["command"][-1] == "possync.entry.web.wsgi:app"
    assert any(str(p).endswith(":8000") for p in receiver["ports"])
    assert receiver["environment"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")


def test_flower_requires_basic_auth_and_listens_on_loopback_only() -> None:
    flower = load_compose()["services"]["flower"]
    assert flower["command"][:2] == ["possync", "flower"]
    assert "--unauthenticated" not in flower["command"]
    assert "${POSSYNC_FLOWER_BASIC_AUTH:?" in flower["environment"]["POSSYNC_FLOWER_BASIC_AUTH"]
    assert all(str(p).startswith("127.0.0.1:") for p in flower["ports"])


def test_the_public_receiver_never_serves_the_console_in_compose() -> None:
    """The console's login in .env reaches the console service only, never the internet-facing receiver."""
    assert load_compose()["services"]["receiver"]["environment"]["POSSYNC_CONSOLE_BASIC_AUTH"] == ""
    env = service_settings_env(REAL_VALUES | {"POSSYNC_CONSOLE_BASIC_AUTH": CONSOLE_LOGIN})
    assert env["receiver"]["POSSYNC_CONSOLE_BASIC_AUTH"] == ""
    assert load_settings(env["receiver"]).console_basic_auth is None
    assert load_settings(env["console"]).console_basic_auth == CONSOLE_LOGIN


def test_compose_console_is_the_receiver_on_loopback_with_a_smaller_cpu_weight() -> None:
    services = load_compose()["services"]
    receiver, console = services["receiver"], services["console"]
    assert console["command"] == receiver["command"]
    assert console["image"] == receiver["image"]
    assert console["healthcheck"] == receiver["healthcheck"]
    assert console["profiles"] == ["console"]  # opt-in: a plain `docker compose up` leaves it out
    assert console["ports"] and all(str(p).startswith("127.0.0.1:") for p in console["ports"])
    assert console["cpu_shares"] < receiver.get("cpu_shares", 1024)  # 1024: Docker's default weight
    assert console["environment"]["WEB_CONCURRENCY"] in ("1", "${POSSYNC_CONSOLE_CONCURRENCY:-1}")
    assert console["environment"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    assert console["environment"]["POSSYNC_METRICS_BASIC_AUTH"].startswith("${POSSYNC_METRICS_BASIC_AUTH:?")


def run_console_entrypoint(login: str) -> subprocess.CompletedProcess[str]:
    """The console service's entrypoint as its container runs it, with `echo started` as the command."""
    console = load_compose(interpolate(compose_text(), env_example()))["services"]["console"]
    return subprocess.run([*console["entrypoint"], "echo", "started"], capture_output=True, text=True, timeout=10,
                          env={"PATH": "/usr/bin:/bin", "POSSYNC_CONSOLE_BASIC_AUTH": login})


def test_compose_console_refuses_to_start_without_its_login() -> None:
    """Not `${...:?}`: compose interpolates services of inactive profiles too, so that would stop a plain
    `docker compose up` with .env.example's empty login; the console's own entrypoint refuses instead."""
    assert "${POSSYNC_CONSOLE_BASIC_AUTH:?" not in compose_text()
    assert env_example()["POSSYNC_CONSOLE_BASIC_AUTH"] == ""
    refused = run_console_entrypoint("")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "set POSSYNC_CONSOLE_BASIC_AUTH=user:password in .env" in refused.stderr
    started = run_console_entrypoint(CONSOLE_LOGIN)
    assert (started.returncode, started.stdout) == (0, "started\n")


def test_every_variable_used_is_documented_in_env_example() -> None:
    used = {m.group(1) for m in INTERPOLATION.finditer(compose_text()) if m.group(1)}
    assert used, "no ${VAR} found: the pattern is broken"
    assert used - env_example().keys() == set()


def test_secrets_have_no_default_and_stop_compose_when_missing() -> None:
    text = compose_text()
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "POSSYNC_SECRET_KEY", "POSSYNC_FLOWER_BASIC_AUTH"):
        assert f"${{{name}:?" in text, name
        assert f"${{{name}:-" not in text, name
    env = env_example()
    del env["POSSYNC_SECRET_KEY"]
    with pytest.raises(AssertionError, match="POSSYNC_SECRET_KEY"):
        interpolate(text, env)


def test_env_example_holds_no_usable_secret() -> None:
    env = env_example()
    with pytest.raises(ValueError):  # a published, working key would end up in someone's production
        Fernet(env["POSSYNC_SECRET_KEY"].encode())
    assert "change-me" in env["POSTGRES_PASSWORD"] and "change-me" in env["REDIS_PASSWORD"]
    assert env["POSSYNC_FLOWER_BASIC_AUTH"].endswith(":change-me")
    assert "Fernet.generate_key()" in ENV_EXAMPLE.read_text()  # says how to make a real one


def test_env_example_documents_every_setting_possync_reads() -> None:
    """Drift check: a new POSSYNC_* variable in the settings or CLI must reach the deployment files."""
    read = set()
    for path in [ROOT / "worker" / "settings.py", *sorted((ROOT / "entry" / "cli").glob("*.py"))]:
        if path.exists():
            read |= set(re.findall(r"\"(POSSYNC_[A-Z0-9_]+)\"", path.read_text()))
    assert "POSSYNC_DATABASE_URL" in read
    compose_env = set(load_compose()["x-possync-env"]) | {"POSSYNC_FLOWER_BASIC_AUTH"}
    assert read - (env_example().keys() | compose_env) == set()
    secret = load_manifest(K8S / "templates" / "secret.yaml")
    k8s_keys = set(of_kind("ConfigMap")[0]["data"]) | set(secret["stringData"])
    assert read - k8s_keys == set()


def test_compose_app_containers_are_not_root() -> None:
    for name, svc in possync_services(load_compose()).items():
        assert str(svc.get("user", "10001")).split(":")[0] not in ("0", "root"), name


def test_every_possync_container_is_hardened_the_migration_included() -> None:
    services = possync_services(load_compose())
    assert "migrate" in services
    for name, svc in services.items():
        assert svc["user"] == "10001:10001", name
        assert svc["read_only"] is True and svc["tmpfs"] == ["/tmp"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert svc["cap_drop"] == ["ALL"], name


def test_redis_requires_a_password_that_every_client_uses() -> None:
    services = load_compose()["services"]
    argv = services["redis"]["command"]
    assert argv[argv.index("--requirepass") + 1] == "${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}"
    assert services["redis"]["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")
    assert "PONG" in " ".join(services["redis"]["healthcheck"]["test"])  # NOAUTH also exits 0
    for name, svc in possync_services(load_compose()).items():
        if name != "migrate":
            assert svc["environment"]["POSSYNC_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?"), name


def test_flower_gets_the_broker_and_its_login_only() -> None:
    flower = load_compose()["services"]["flower"]
    assert set(flower["environment"]) == {"POSSYNC_REDIS_URL", "POSSYNC_REDIS_KEY_PREFIX",
                                          "POSSYNC_REDIS_SENTINEL_MASTER", "POSSYNC_LOG_FORMAT",
                                          "POSSYNC_FLOWER_BASIC_AUTH"}


def service_settings_env(overrides: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each possync service's environment once compose has interpolated .env.example with `overrides`."""
    compose = load_compose(interpolate(compose_text(), env_example() | overrides))
    return {name: {k: str(v) for k, v in svc.get("environment", {}).items()}
            for name, svc in possync_services(compose).items()}


REAL_VALUES = {"POSTGRES_PASSWORD": "4f1c9e2a77d0b3", "REDIS_PASSWORD": "9b8e7c6d5a4f3e",
               "POSSYNC_SECRET_KEY": Fernet.generate_key().decode(), "POSSYNC_FLOWER_BASIC_AUTH": "ops:Wq8-Zr2-Lp5",
               "POSSYNC_METRICS_BASIC_AUTH": "prom:Hy3-Tq9-Vb1"}
CONSOLE_LOGIN = "operator:Kx4-Pm7-Rd2"


@pytest.mark.parametrize(
    ("placeholder", "named"),
    [("POSTGRES_PASSWORD", "POSSYNC_DATABASE_URL"), ("REDIS_PASSWORD", "POSSYNC_REDIS_URL"),
     ("POSSYNC_SECRET_KEY", "POSSYNC_SECRET_KEY"), ("POSSYNC_FLOWER_BASIC_AUTH", "POSSYNC_FLOWER_BASIC_AUTH"),
     ("POSSYNC_METRICS_BASIC_AUTH", "POSSYNC_METRICS_BASIC_AUTH")],
)
def test_a_placeholder_left_in_env_is_refused_at_start_naming_the_variable(placeholder: str, named: str) -> None:
    """.env copied from .env.example and not (fully) filled in: the services that read it refuse to start."""
    real = {k: v for k, v in REAL_VALUES.items() if k != placeholder}
    refused = []
    for name, env in service_settings_env(real).items():
        try:
            load_settings(env)
        except SettingsError as exc:
            assert str(exc).startswith(named), (name, str(exc))
            refused.append(name)
    assert refused, f"no service refused the placeholder {placeholder}"
    for env in service_settings_env(REAL_VALUES).values():
        load_settings(env)  # filled in: every service starts


def test_the_kubernetes_secret_template_is_refused_until_filled_in() -> None:
    secret = load_manifest(K8S / "templates" / "secret.yaml")["stringData"]
    for name in ("POSSYNC_DATABASE_URL", "POSSYNC_REDIS_URL", "POSSYNC_SECRET_KEY", "POSSYNC_FLOWER_BASIC_AUTH"):
        with pytest.raises(SettingsError, match=f"^{name}"):
            load_settings({name: secret[name]})


# --- deploy/Dockerfile --------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    logical, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(entry.split(None, 1)[0].upper(), entry.split(None, 1)[1] if " " in entry else "") for entry in logical]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_dockerfile_is_multi_stage_and_ships_only_the_built_virtualenv() -> None:
    instructions = dockerfile_instructions()
    stages = [args for op, args in instructions if op == "FROM"]
    assert len(stages) >= 2
    assert any(op == "COPY" and args.startswith("--from=build") for op, args in final_stage())
    assert any(op == "RUN" and "pip wheel" in args for op, args in instructions)


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [args for op, args in final_stage() if op == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0  # numeric, so Kubernetes' runAsNonRoot can verify it


def test_dockerfile_exposes_8000_and_defaults_to_the_receiver_under_gunicorn() -> None:
    stage = final_stage()
    assert ("EXPOSE", "8000") in stage
    cmd = json.loads([args for op, args in stage if op == "CMD"][-1])
    assert cmd[0] == "gunicorn" and cmd[-1] == "possync.entry.web.wsgi:app"


def test_dockerfile_bakes_in_no_secret() -> None:
    for op, args in dockerfile_instructions():
        if op in ("ENV", "ARG"):
            assert not re.search(r"SECRET|PASSWORD|TOKEN|BASIC_AUTH|DATABASE_URL|REDIS_URL", args, re.I), args
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    assert ".env" in ignore and ".git" in ignore and ".venv" in ignore


def test_dockerfile_copies_files_that_exist() -> None:
    for op, args in dockerfile_instructions():
        if op == "COPY" and not args.startswith("--from"):
            *sources, _target = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: missing, the image would not build"


# --- deploy/k8s ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s_validator() -> Draft202012Validator:
    return manifest_validator()


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_matches_the_kubernetes_and_keda_schemas(path: Path, k8s_validator: Draft202012Validator) -> None:
    assert errors(k8s_validator, load_manifest(path)) == []


@pytest.mark.parametrize(
    ("path", "break_it", "expected"),
    [
        (
            "40-beat-deployment.yaml",
            lambda o: pod_spec(o)["containers"][0].update(imagePullPolicyy="x"),
            "imagePullPolicyy",
        ),
        (
            "31-worker-lightspeed-r-scaledobject.yaml",
            lambda o: o["spec"]["triggers"][0]["metadata"].update(threshold=20),
            "threshold",
        ),
        (
            "31-worker-lightspeed-r-scaledobject.yaml",
            lambda o: o["spec"]["triggers"][0]["metadata"].pop("query"),
            "query",
        ),
        (
            "31-worker-lightspeed-r-scaledobject.yaml",
            lambda o: o["spec"]["triggers"][0]["metadata"].update(listName="pos.lightspeed_r"),
            "listName",
        ),
        ("21-receiver-service.yaml", lambda o: o.update(kind="Servic"), "kind"),
        ("00-namespace.yaml", lambda o: o.update(apiVersion="apps/v1"), "apiVersion"),
    ],
)
def test_manifest_schema_rejects_broken_objects(
    path: str, break_it: Any, expected: str, k8s_validator: Draft202012Validator
) -> None:
    """Guard against a vacuous check: each broken copy must fail, naming the field."""
    obj = copy.deepcopy(load_manifest(K8S / path))
    assert errors(k8s_validator, obj) == []
    break_it(obj)
    assert any(expected in e for e in errors(k8s_validator, obj))


def test_every_object_lives_in_the_possync_namespace() -> None:
    for path in manifest_files():
        obj = load_manifest(path)
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == "possync"
        else:
            assert obj["metadata"].get("namespace") == "possync", path.name


def test_every_queue_has_a_worker_deployment_and_a_scaled_object() -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind("ScaledObject")}
    consumed: dict[str, str] = {}
    for name, deployment in deployments.items():
        for queue in queues_consumed(command_of(pod_spec(deployment)["containers"][0])):
            consumed[queue] = name
    assert set(consumed) == ALL_QUEUES
    for queue, name in consumed.items():
        assert name in scaled, f"{name} (queue {queue}) has no ScaledObject"
        assert queue in backlogs_watched(scaled[name]), f"ScaledObject {name} does not watch the backlog of {queue}"
        # KEDA owns the replica count; a fixed one in the Deployment would fight it on every apply.
        assert "replicas" not in deployments[name]["spec"], name
    for kind in PosKind:
        assert queues_consumed(command_of(pod_spec(deployments[consumed[kind.queue]])["containers"][0])) == {kind.queue}


def backlogs_watched(scaled_object: dict[str, Any]) -> set[str]:
    """The queues whose ready backlog (`possync_queue_ready`: the broker's list and the fair lines) a
    ScaledObject scales on; the broker's list alone never holds more than POSSYNC_QUEUE_DEPTH messages."""
    queues = set()
    for trigger in scaled_object["spec"]["triggers"]:
        assert trigger["type"] == "prometheus", "a Redis list trigger sees at most POSSYNC_QUEUE_DEPTH messages"
        match = re.fullmatch(r'max\(possync_queue_ready\{queue="([^"]+)"\}\)', trigger["metadata"]["query"])
        assert match, trigger["metadata"]["query"]
        queues.add(match.group(1))
    return queues


def test_scaled_objects_target_a_deployment_and_hold_replicas_when_prometheus_fails() -> None:
    targets = {d["metadata"]["name"] for d in of_kind("Deployment")}
    for so in of_kind("ScaledObject"):
        assert so["spec"]["scaleTargetRef"]["name"] in targets
        assert so["spec"]["fallback"]["replicas"] >= so["spec"]["minReplicaCount"] >= 1
        for trigger in so["spec"]["triggers"]:
            assert trigger["metadata"]["ignoreNullValues"] == "false"  # a lost metric is a failure, not zero


def test_tenant_example_consumes_its_dedicated_queue() -> None:
    examples = sorted((K8S / "examples").glob("*.yaml"))
    deployment = of_kind("Deployment", examples)[0]
    scaled = of_kind("ScaledObject", examples)[0]
    assert queues_consumed(command_of(pod_spec(deployment)["containers"][0])) == {"tenant.acme"}
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert backlogs_watched(scaled) == {"tenant.acme"}


def test_kubernetes_runs_exactly_one_beat_recreated_not_rolled() -> None:
    beats = [d for d in of_kind("Deployment") if command_of(pod_spec(d)["containers"][0])[:2] == ["possync", "beat"]]
    assert len(beats) == 1
    beat = beats[0]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert beat["metadata"]["name"] not in {s["spec"]["scaleTargetRef"]["name"] for s in of_kind("ScaledObject")}


def test_migration_job_runs_db_upgrade() -> None:
    (job,) = of_kind("Job")
    assert command_of(pod_spec(job)["containers"][0]) == ["possync", "db", "upgrade"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_receiver_probes_use_healthz_and_readyz_on_8000() -> None:
    (receiver,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "receiver"]
    container = pod_spec(receiver)["containers"][0]
    assert command_of(container)[0] == "gunicorn" and command_of(container)[-1] == "possync.entry.web.wsgi:app"
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    (service,) = [s for s in of_kind("Service") if s["metadata"]["name"] == "receiver"]
    assert service["spec"]["selector"].items() <= receiver["spec"]["template"]["metadata"]["labels"].items()


def test_workers_are_probed_with_a_celery_ping_to_themselves() -> None:
    for deployment in of_kind("Deployment", manifest_files()):
        container = pod_spec(deployment)["containers"][0]
        if not queues_consumed(command_of(container)):
            continue
        probe = " ".join(container["livenessProbe"]["exec"]["command"])
        assert WORKER_PING in probe and "celery@$HOSTNAME" in probe, deployment["metadata"]["name"]
        assert probe.startswith("sh -c"), "a shell is needed to expand $HOSTNAME"


def test_every_pod_runs_non_root_without_privilege_escalation() -> None:
    for obj in of_kind("Deployment", manifest_files()) + of_kind("Job", manifest_files()):
        name = obj["metadata"]["name"]
        pod = pod_spec(obj)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["capabilities"]["drop"] == ["ALL"], name
            assert ctx.get("runAsUser", 10001) != 0, name


def test_every_container_has_resource_requests_and_limits() -> None:
    for obj in of_kind("Deployment", manifest_files()) + of_kind("Job", manifest_files()):
        for container in pod_spec(obj)["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), obj["metadata"]["name"]
            assert "memory" in resources["limits"], obj["metadata"]["name"]


def test_flower_is_behind_basic_auth_and_sees_no_database_secret() -> None:
    (flower,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "flower"]
    container = pod_spec(flower)["containers"][0]
    assert command_of(container)[:2] == ["possync", "flower"] and "--unauthenticated" not in command_of(container)
    env = {e["name"]: e for e in container["env"]}
    assert env["POSSYNC_FLOWER_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]["name"] == "possync"
    assert "POSSYNC_DATABASE_URL" not in env and "POSSYNC_SECRET_KEY" not in env
    assert flower["spec"]["replicas"] == 1


def deployment(component: str) -> dict[str, Any]:
    (found,) = [d for d in of_kind("Deployment")
                if d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == component]
    return found


def cpu(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def test_the_public_receiver_never_serves_the_console_in_kubernetes() -> None:
    container = pod_spec(deployment("receiver"))["containers"][0]
    assert "POSSYNC_CONSOLE_BASIC_AUTH" not in {e["name"] for e in container["env"]}
    # Nor through envFrom: the receiver takes the ConfigMap only, which holds no login.
    assert all("configMapRef" in source for source in container["envFrom"])
    assert "POSSYNC_CONSOLE_BASIC_AUTH" not in of_kind("ConfigMap")[0]["data"]


def test_kubernetes_console_is_the_receiver_with_its_login_and_a_cpu_limit() -> None:
    receiver, console = deployment("receiver"), deployment("console")
    assert console["spec"]["replicas"] == 1
    rc, cc = pod_spec(receiver)["containers"][0], pod_spec(console)["containers"][0]
    assert command_of(cc) == command_of(rc)
    for key in ("image", "ports", "startupProbe", "livenessProbe", "readinessProbe", "securityContext",
                "volumeMounts", "envFrom"):
        assert cc[key] == rc[key], key
    for key in ("securityContext", "volumes", "automountServiceAccountToken"):
        assert pod_spec(console)[key] == pod_spec(receiver)[key], key
    env = {e["name"]: e for e in cc["env"]}
    login = env["POSSYNC_CONSOLE_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]
    assert login["key"] == "POSSYNC_CONSOLE_BASIC_AUTH" and not login.get("optional", False)
    assert env["WEB_CONCURRENCY"]["value"] == "1"
    assert env["POSSYNC_METRICS_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]["key"] == "POSSYNC_METRICS_BASIC_AUTH"
    assert cpu(cc["resources"]["limits"]["cpu"]) < cpu(rc["resources"]["limits"]["cpu"])
    (service,) = [s for s in of_kind("Service") if s["metadata"]["name"] == "console"]
    assert service["spec"]["type"] == "ClusterIP"
    assert [p["port"] for p in service["spec"]["ports"]] == [8000]
    assert service["spec"]["selector"].items() <= console["spec"]["template"]["metadata"]["labels"].items()
    assert not service["spec"]["selector"].items() <= receiver["spec"]["template"]["metadata"]["labels"].items()


# --- NetworkPolicies ----------------------------------------------------------------------------


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector matching (matchLabels, and matchExpressions with In / NotIn / Exists)."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        value, op = labels.get(expression["key"]), expression["operator"]
        if (op == "In" and value not in expression["values"]) or (op == "NotIn" and value in expression["values"]) \
                or (op == "Exists" and value is None):
            return False
    return True


def policies_for(labels: dict[str, str], direction: str) -> list[dict[str, Any]]:
    key = "ingress" if direction == "Ingress" else "egress"
    return [rule for policy in of_kind("NetworkPolicy") if direction in policy["spec"]["policyTypes"]
            and selects(policy["spec"]["podSelector"], labels) for rule in policy["spec"].get(key, [])]


def pod_labels() -> dict[str, dict[str, str]]:
    """Component -> pod labels, for every Deployment and Job (the tenant example included)."""
    return {obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]:
            obj["spec"]["template"]["metadata"]["labels"]
            for obj in of_kind("Deployment", manifest_files()) + of_kind("Job", manifest_files())}


def test_network_policies_deny_everything_not_allowed() -> None:
    (deny,) = [p for p in of_kind("NetworkPolicy") if p["spec"]["podSelector"] == {}
               and "ingress" not in p["spec"] and "egress" not in p["spec"]]
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_only_the_receiver_is_reachable_and_only_from_the_ingress_controller() -> None:
    for component, labels in pod_labels().items():
        rules = policies_for(labels, "Ingress")
        if component != "receiver":
            assert rules == [], component
            continue
        assert rules, "the receiver must be reachable from the ingress controller"
        for rule in rules:
            assert [p["port"] for p in rule["ports"]] == [8000]
            assert all(set(peer) == {"namespaceSelector"} for peer in rule["from"])  # no ipBlock, no open rule


def test_the_console_is_not_reachable_from_the_ingress_controller() -> None:
    """As shipped it admits no peer (port-forward only), even without the namespace-wide deny; opened to an
    internal ingress later, never to the public controller's namespace nor to everyone."""
    (public,) = [p for p in of_kind("NetworkPolicy") if p["metadata"]["name"] == "receiver-from-ingress"]
    controllers = [peer["namespaceSelector"] for rule in public["spec"]["ingress"] for peer in rule["from"]]
    assert controllers
    console = pod_labels()["console"]
    rules = policies_for(console, "Ingress")
    for rule in rules:
        assert rule.get("from"), "a rule without `from` admits every peer"
        for peer in rule["from"]:
            assert set(peer) == {"namespaceSelector"} and peer["namespaceSelector"] not in controllers, peer
    assert rules == []
    own = [p for p in of_kind("NetworkPolicy") if p["spec"]["podSelector"] != {}
           and selects(p["spec"]["podSelector"], console) and "Ingress" in p["spec"]["policyTypes"]]
    assert own, "no NetworkPolicy of the console's own: only the namespace-wide deny keeps it closed"


@pytest.mark.parametrize(
    ("component", "ports"),
    # The console's 443: its Shopify duplicates merge calls Shopify from the page's request.
    [("receiver", {53, 5432, 6379}), ("console", {53, 443, 5432, 6379}), ("worker", {53, 443, 5432, 6379}),
     ("beat", {53, 5432, 6379}), ("flower", {53, 6379}), ("migrate", {53, 5432})],
)
def test_each_process_reaches_only_what_it_needs(component: str, ports: set[int]) -> None:
    rules = policies_for(pod_labels()[component], "Egress")
    assert {port["port"] for rule in rules for port in rule["ports"]} == ports
    for rule in rules:
        for peer in rule.get("to", []):  # vendors: public addresses only, never the metadata service
            if "ipBlock" in peer and peer["ipBlock"]["cidr"] == "0.0.0.0/0":
                assert {"169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(
                    peer["ipBlock"]["except"])


def test_secret_is_a_template_of_placeholders_kept_out_of_the_applied_folder() -> None:
    assert of_kind("Secret") == [], "a Secret in deploy/k8s/*.yaml would overwrite the real one on apply"
    secret = load_manifest(K8S / "templates" / "secret.yaml")
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value or "example.internal" in value, key
    referenced = set()
    for obj in objects(manifest_files()):
        if obj["kind"] in ("Deployment", "Job"):
            for container in pod_spec(obj)["containers"]:
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["name"] == secret["metadata"]["name"]
                        referenced.add(ref["key"])
        if obj["kind"] == "TriggerAuthentication":
            referenced |= {ref["key"] for ref in obj["spec"]["secretTargetRef"]}
    assert referenced == set(secret["stringData"]), "template keys and references disagree"


def test_every_container_uses_the_same_image() -> None:
    images = {
        c["image"]
        for obj in objects(manifest_files())
        if obj["kind"] in ("Deployment", "Job")
        for c in pod_spec(obj)["containers"]
    }
    assert len(images) == 1


# --- deploy/gunicorn.conf.py and deploy/healthcheck.py ------------------------------------------


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_config_empties_the_metrics_dir_and_drops_dead_workers(tmp_path: Path, monkeypatch) -> None:
    metrics = tmp_path / "prom"
    metrics.mkdir()
    (metrics / "counter_111.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))
    conf = load_module("possync_gunicorn_conf", ROOT / "deploy" / "gunicorn.conf.py")
    assert list(metrics.iterdir()) == []  # emptied at import, in the master, before workers fork
    (metrics / "gauge_livesum_4242.db").write_bytes(b"x")
    (metrics / "counter_4242.db").write_bytes(b"x")
    conf.child_exit(None, SimpleNamespace(pid=4242))
    assert sorted(p.name for p in metrics.iterdir()) == ["counter_4242.db"]  # counters outlive the process
    conf.on_starting(None)
    assert list(metrics.iterdir()) == []


def test_gunicorn_config_keeps_the_receivers_settings_and_adds_the_containers(tmp_path: Path, monkeypatch) -> None:
    from possync.entry.web import gunicorn_conf as receiver

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "a" / "b"))
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = load_module("possync_gunicorn_conf_2", ROOT / "deploy" / "gunicorn.conf.py")
    assert (tmp_path / "a" / "b").is_dir()  # created when missing
    assert conf.bind == "0.0.0.0:8000"
    for name in ("worker_class", "threads", "timeout", "keepalive", "accesslog", "child_exit"):
        assert getattr(conf, name) == getattr(receiver, name), name
    assert conf.workers == 3  # not cpu_count(): that is the node's, not the container's
    assert conf.control_socket_disable is True  # it would be created under the read-only $HOME
    assert conf.DEFAULT_MULTIPROC_DIR.startswith("/tmp/")


@pytest.fixture
def healthcheck() -> ModuleType:
    return load_module("possync_healthcheck", ROOT / "deploy" / "healthcheck.py")


@pytest.fixture
def local_http() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_healthcheck_http(healthcheck: ModuleType, local_http: str) -> None:
    assert healthcheck.main(["http", f"{local_http}/healthz"]) == 0
    assert healthcheck.check_http(f"{local_http}/readyz") == "HTTP 503"
    assert healthcheck.main(["http", f"{local_http}/readyz"]) == 1
    assert healthcheck.check_http("http://127.0.0.1:9/healthz", timeout=2).startswith("unreachable")


def test_healthcheck_broker(healthcheck: ModuleType, redis_server_url: str, capsys) -> None:
    assert healthcheck.main(["broker"], env={"POSSYNC_REDIS_URL": redis_server_url}) == 0
    assert healthcheck.main(["broker"], env={"POSSYNC_REDIS_URL": "redis://:s3cret-pw@127.0.0.1:9/0"}) == 1
    assert healthcheck.main(["broker"], env={}) == 1
    err = capsys.readouterr().err
    assert "unhealthy: broker unreachable" in err and "POSSYNC_REDIS_URL is not set" in err
    assert "s3cret-pw" not in err  # the URL may carry a password: never printed
    assert healthcheck.main(["nonsense"]) == 2


def test_healthcheck_broker_through_sentinel(healthcheck: ModuleType, tmp_path: Path) -> None:
    with running_sentinel_group(tmp_path) as group:
        assert healthcheck.main(["broker"], env=group.env()) == 0
        url = group.env()["POSSYNC_REDIS_URL"]
        assert healthcheck.main(["broker"], env={"POSSYNC_REDIS_URL": url}) == 1  # no master name: unhealthy


def test_metrics_ask_for_a_login_in_compose_and_kubernetes() -> None:
    """/metrics names every tenant and shares the webhooks' port: both deployments put it behind a login."""
    receiver = load_compose()["services"]["receiver"]
    assert receiver["environment"]["POSSYNC_METRICS_BASIC_AUTH"].startswith("${POSSYNC_METRICS_BASIC_AUTH:?")
    deployment = yaml.safe_load((ROOT / "deploy/k8s/20-receiver-deployment.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert refs["POSSYNC_METRICS_BASIC_AUTH"] == "POSSYNC_METRICS_BASIC_AUTH"
    secret = yaml.safe_load((ROOT / "deploy/k8s/templates/secret.yaml").read_text())
    assert "POSSYNC_METRICS_BASIC_AUTH" in secret["stringData"]
