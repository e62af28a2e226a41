"""``flagstream signals``: import, export and remove the signal lists on the compacted topic."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
import orjson

from streams.cli.options import bootstrap_option, config_option, settings_from_cli
from streams.errors import FlagstreamError
from streams.networks.signals import KINDS, LIST_NAME, SignalFormatError, parse_signal
from streams.networks.signals_file import FORMATS, file_format, parse_file
from streams.networks.signals_topic import ensure_topic, publish, read_all

READ_TIMEOUT_S = 120.0
_LIST_HELP = "lower-case letters, digits, '.', '_', '-'"


def _list_name(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not LIST_NAME.match(value):
        raise click.BadParameter(f"{value!r} is not a list name: use 1-64 {_LIST_HELP}")
    return value


@click.group()
def signals() -> None:
    """Manage the signal lists: known-bad indicators and text fingerprints (docs/networks.md).

    Signals live on the compacted topic FLAGSTREAM_SIGNALS_TOPIC (default events.signals); every
    worker loads them at start and applies changes within seconds.
    """


@signals.command("import")
@config_option
@bootstrap_option
@click.argument(
    "file", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@click.option(
    "--list",
    "list_name",
    default=None,
    callback=_list_name,
    help=f"List name for rows without a 'list' field ({_LIST_HELP}).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="File format. [default: from the suffix: .csv, .jsonl/.ndjson/.json]",
)
@click.option(
    "--dry-run", is_flag=True, help="Validate every row and report, without writing anything."
)
def import_(
    config_file: Path | None,
    bootstrap: str | None,
    file: Path | None,
    list_name: str | None,
    fmt: str | None,
    dry_run: bool,
) -> None:
    """Validate FILE (CSV with a header row, or JSONL) and write its signals to the topic.

    Fields: list, kind (indicator | text_exact | text_near), indicator_type and value (for
    indicators: a phone, messenger id, URL... normalised here), text or value (for text kinds:
    the text, fingerprinted here, or its fingerprint), label (spam | scam | toxic | hate),
    and optional action (review | block), notes, source, added_at. A bad row gets one line on
    stderr with its line number and the fix; the other rows are still imported, and the exit
    status is 1.
    """
    settings = settings_from_cli(config_file, bootstrap=bootstrap)
    if file is None:  # checked after the settings, so that a bad --config is named first
        raise click.UsageError("give the FILE to import (CSV or JSONL)")
    try:
        parsed = parse_file(file, file_format(file, fmt), list_name)
    except SignalFormatError as exc:
        raise click.ClickException(str(exc)) from None
    for line in parsed.errors:
        click.echo(line, err=True)
    per_list = Counter(s.list for s in parsed.signals.values())
    if not dry_run and parsed.signals:
        try:
            ensure_topic(settings)
            publish(settings, parsed.signals.values())
        except FlagstreamError as exc:
            raise click.ClickException(str(exc)) from None
    verb = (
        "valid (dry run, nothing written)" if dry_run else f"imported into {settings.signals_topic}"
    )
    lists = ", ".join(f"{name}: {n}" for name, n in sorted(per_list.items())) or "none"
    click.echo(f"{len(parsed.signals)} signals {verb} ({lists})")
    if parsed.errors:
        click.echo(
            f"{len(parsed.errors)} of {parsed.rows} rows failed (see above); fix them and import "
            "the file again (imported signals are overwritten, not duplicated)",
            err=True,
        )
        sys.exit(1)


@signals.command("export")
@config_option
@bootstrap_option
@click.option(
    "--list",
    "list_name",
    default=None,
    callback=_list_name,
    help="Only this list. [default: every list]",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    default=None,
    help="Write the JSONL here. [default: standard output]",
)
def export(
    config_file: Path | None, bootstrap: str | None, list_name: str | None, out: Path | None
) -> None:
    """Write the live signals (removed ones left out) as JSONL, one record per line.

    The output is a valid import file: export, edit, import round-trips.
    """
    settings = settings_from_cli(config_file, bootstrap=bootstrap)
    try:
        live = read_all(settings, READ_TIMEOUT_S)
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    lines = []
    for key in sorted(live):
        if list_name is not None and not key.startswith(f"{list_name}|"):
            continue
        lines.append(orjson.dumps(orjson.loads(live[key])) + b"\n")
    data = b"".join(lines)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        out.write_bytes(data)
        click.echo(f"{len(lines)} signals written to {out}", err=True)


@signals.command("remove")
@config_option
@bootstrap_option
@click.option(
    "--list", "list_name", callback=_list_name, help=f"The list, required ({_LIST_HELP})."
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    help="The signal's kind (with --value/--text).",
)
@click.option(
    "--indicator-type", default=None, help="For --kind indicator: url, phone, wechat, qq..."
)
@click.option("--value", default=None, help="The indicator or fingerprint, as imported.")
@click.option("--text", default=None, help="For text kinds: the text (fingerprinted here).")
@click.option("--all", "remove_all", is_flag=True, help="Remove every signal of the list instead.")
def remove(
    config_file: Path | None,
    bootstrap: str | None,
    list_name: str | None,
    kind: str | None,
    indicator_type: str | None,
    value: str | None,
    text: str | None,
    remove_all: bool,
) -> None:
    """Remove one signal (--kind and --value or --text) or a whole list (--all): a tombstone
    on the topic, which every worker applies within seconds."""
    settings = settings_from_cli(config_file, bootstrap=bootstrap)
    if list_name is None:  # checked after the settings, so that a bad --config is named first
        raise click.UsageError("give --list NAME: the list to remove from")
    if remove_all == (kind is not None):
        raise click.UsageError("give either --all or --kind with --value/--text")
    try:
        if remove_all:
            keys = [k for k in read_all(settings, READ_TIMEOUT_S) if k.startswith(f"{list_name}|")]
        else:
            row = {"list": list_name, "kind": kind, "indicator_type": indicator_type}
            row |= {"value": value, "text": text, "label": "spam"}  # the label is not in the key
            keys = [parse_signal({k: v for k, v in row.items() if v is not None}).key]
        publish(settings, (), keys)
    except SignalFormatError as exc:
        raise click.UsageError(str(exc)) from None
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(keys)} signals removed from {list_name} ({settings.signals_topic})")
