"""``flagstream tail``: watch flagged events as they arrive."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import orjson

from streams import kafka_clients
from streams.cli.options import bootstrap_option, config_option, settings_from_cli, topic_name
from streams.errors import FlagstreamError

ACTION_COLOURS = {"block": "red", "review": "yellow"}


def format_flagged(payload: dict[str, Any], width: int = 100) -> str:
    """One readable line for a flagged event."""
    action = str(payload.get("action", "?"))
    labels = payload.get("labels", [])
    scores = payload.get("scores", {})
    hits = " ".join(f"{lb}={scores.get(lb, 0):.2f}" for lb in labels)
    event = payload.get("event", {})
    text = str(event.get("text", "")).replace("\n", " ")
    if len(text) > width:
        text = text[: width - 1] + "…"
    lang = event.get("lang", "-")
    tag = click.style(f"{action.upper():6}", fg=ACTION_COLOURS.get(action, "white"), bold=True)
    return f"{tag} {hits:28} {lang:5} {payload.get('event_id', '?')}  {text}"


def format_campaign(payload: dict[str, Any], width: int = 80) -> str:
    """One readable line for a campaign record."""
    kind = str(payload.get("kind", "?"))
    labels = payload.get("labels", {})
    hits = ",".join(f"{lb}:{n}" for lb, n in sorted(labels.items())) or "no labels"
    indicators = " ".join(f"{i['type']}={i['value']}" for i in payload.get("indicators", []))
    text = str(payload.get("sample_text", "")).replace("\n", " ")
    if len(text) > width:
        text = text[: width - 1] + "…"
    colour = "red" if labels else "cyan"
    tag = click.style(f"{kind.upper():16}", fg=colour, bold=True)
    return (
        f"{tag} {payload.get('campaign_id', '?')}  {payload.get('author_count', 0)} authors, "
        f"{payload.get('event_count', 0)} events, {hits}  {payload.get('first_seen', '?')} → "
        f"{payload.get('last_seen', '?')}  {indicators}  {text}"
    )


@click.command()
@config_option
@bootstrap_option
@click.option(
    "--topic",
    default=None,
    callback=topic_name,
    help="Topic to read. [default: the flagged topic]",
)
@click.option(
    "--from-beginning",
    is_flag=True,
    help="Start at the oldest retained message instead of new ones.",
)
@click.option(
    "--count", default=0, type=click.IntRange(0), help="Stop after this many events (0: no limit)."
)
@click.option(
    "--timeout",
    default=0.0,
    type=click.FloatRange(0),
    help="Stop after this many seconds without a message (0: never).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON payload, one per line.")
@click.option(
    "--campaigns",
    is_flag=True,
    help="Print campaign records (the campaigns topic) instead of flagged events.",
)
def tail(
    config_file: Path | None,
    bootstrap: str | None,
    topic: str | None,
    from_beginning: bool,
    count: int,
    timeout: float,
    as_json: bool,
    campaigns: bool,
) -> None:
    """Print flagged events (or, with --campaigns, campaign records) readably as they arrive
    (Ctrl-C to stop)."""
    settings = settings_from_cli(config_file, bootstrap=bootstrap)
    source = topic or (settings.campaign_topic if campaigns else settings.flagged_topic)
    formatter = format_campaign if campaigns else format_flagged
    try:
        consumer = kafka_clients.consumer(
            settings,
            "flagstream-tail",
            source,
            group_id=None,
            auto_offset_reset="earliest" if from_beginning else "latest",
            enable_auto_commit=False,
        )
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    seen = 0
    last = time.monotonic()
    try:
        while not count or seen < count:
            batch = consumer.poll(timeout_ms=500)
            if not batch:
                if timeout and time.monotonic() - last > timeout:
                    break
                continue
            last = time.monotonic()
            for records in batch.values():
                for record in records:
                    if as_json:
                        click.echo(record.value.decode("utf-8", "replace"))
                    else:
                        try:
                            click.echo(formatter(orjson.loads(record.value)))
                        except orjson.JSONDecodeError:
                            click.echo(f"(not JSON) {record.value[:120]!r}")
                    seen += 1
                    if count and seen >= count:
                        break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
