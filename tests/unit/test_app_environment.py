"""Only FLAGSTREAM_* settings configure the Faust app: Faust's own variables have no effect.

Faust reads about 80 settings from unprefixed environment variables, ahead of the values given in
code; a careless deployment (or a neighbour's variables in a shared environment) would switch
acknowledgements off, point the worker at another cluster or open Faust's web server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from faust.types.settings.settings import Settings as FaustSettings

from streams.app import create_app
from streams.settings import load_settings
from tests.conftest import REPO_ROOT

# each variable a value that weakens delivery, redirects the worker or opens a port
DANGEROUS = {
    "BROKER_URL": "kafka://127.0.0.1:1",
    "BROKER_CONSUMER_URL": "kafka://127.0.0.1:1",
    "BROKER_PRODUCER_URL": "kafka://127.0.0.1:1",
    "PRODUCER_ACKS": "0",
    "APP_WEB_ENABLED": "true",
    "WEB_BIND": "0.0.0.0",
    "WEB_PORT": "6066",
    "CONSUMER_AUTO_OFFSET_RESET": "latest",
    "BROKER_COMMIT_INTERVAL": "3600",
    "BROKER_COMMIT_EVERY": "1000000",
    "PROCESSING_GUARANTEE": "exactly_once",
    "PRODUCER_MAX_REQUEST_SIZE": "1024",
    "PRODUCER_REQUEST_TIMEOUT": "3600",
    "BROKER_SESSION_TIMEOUT": "3600",
    "APP_DEBUG": "true",
    "APP_DATADIR": "/tmp/elsewhere",
    "APP_ENV_PREFIX": "EVIL_",
    "TOPIC_ALLOW_DECLARE": "false",
    "TOPIC_DISABLE_LEADER": "false",
    "STREAM_BUFFER_MAXSIZE": "1",
}
# the same variables after an APP_ENV_PREFIX of our choosing would have been read too
PREFIXED = {f"EVIL_{name}": value for name, value in DANGEROUS.items()}
# read by faust.types._env at import time, with the F_ and FAUST_ prefixes
IMPORT_TIME = {
    f"{prefix}{name}": value
    for prefix in ("F_", "FAUST_")
    for name, value in {"DEBUG": "1", "DATADIR": "/tmp/elsewhere", "WEB_PORT": "1"}.items()
}


def snapshot(conf: Any) -> dict[str, str]:
    """Every current Faust setting's value, as text (objects without a stable repr left out)."""
    values = {
        name: repr(getattr(conf, name))
        for name, param in sorted(conf.SETTINGS.items())
        # reply_to: a fresh random topic name per app instance
        if not param.version_deprecated and name != "reply_to"
    }
    return {name: text for name, text in values.items() if " at 0x" not in text}


_SNAPSHOT = """
import json
from streams.app import create_app
from streams.settings import load_settings
from tests.unit.test_app_environment import snapshot
print(json.dumps(snapshot(create_app(load_settings()).conf)))
"""


def _conf_snapshot(extra_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("F_", "FAUST_"))}
    env = {k: v for k, v in env.items() if k not in DANGEROUS}
    env.update(extra_env, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _SNAPSHOT],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    snapshot: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return snapshot


@pytest.mark.parametrize(("name", "value"), sorted(DANGEROUS.items()))
def test_a_faust_variable_does_not_change_the_app(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    settings = load_settings()
    before = snapshot(create_app(settings).conf)
    monkeypatch.setenv(name, value)
    after = snapshot(create_app(settings).conf)
    changed = {key for key in before if after.get(key) != before[key]}
    assert changed == set(), f"{name}={value} changed {changed}"


def test_the_dangerous_settings_keep_flagstream_s_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DANGEROUS.items():
        monkeypatch.setenv(name, value)
    conf = create_app(load_settings(bootstrap="127.0.0.1:29092")).conf
    assert [str(url) for url in conf.broker] == ["kafka://127.0.0.1:29092"]
    assert conf.producer_acks == -1  # all in-sync replicas: at-least-once rests on it
    assert conf.web_enabled is False
    assert conf.consumer_auto_offset_reset == "earliest"
    assert conf.debug is False


def test_every_faust_variable_at_once_and_at_import_time_changes_nothing() -> None:
    """All of Faust's ~80 variables, the prefixed ones and the import-time F_*/FAUST_* ones."""
    every = {p.env_name: "1" for p in FaustSettings.SETTINGS.values() if p.env_name}
    hostile = {**every, **DANGEROUS, **PREFIXED, **IMPORT_TIME}
    assert len(hostile) > 80
    assert _conf_snapshot(hostile) == _conf_snapshot({})
