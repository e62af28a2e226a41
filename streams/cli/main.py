"""Entry point of the ``flagstream`` command. Commands are imported only when run, so that
``flagstream --help`` stays fast and a command's heavy imports (onnxruntime, faust) are its own."""

from __future__ import annotations

import importlib

import click

from streams import __version__

# command name -> (module, attribute, one-line help shown by `flagstream --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "worker": ("streams.cli.worker", "worker", "Run the moderation worker (the service)."),
    "produce": ("streams.cli.produce", "produce", "Send a sample firehose to the input topic."),
    "tail": ("streams.cli.tail", "tail", "Print flagged events readably as they arrive."),
    "classify": ("streams.cli.classify", "classify", "Classify JSONL without Kafka."),
    "topics": ("streams.cli.topics", "topics", "Create or describe flagstream's topics."),
    "lag-exporter": (
        "streams.cli.lag_exporter",
        "lag_exporter",
        "Export consumer-group lag as the brokers see it.",
    ),
    "model": ("streams.cli.model", "model", "Train, evaluate and export the classifier."),
    "bench": ("streams.cli.bench", "bench", "Benchmark flagstream against its peers."),
    "signals": ("streams.cli.signals", "signals", "Import, export and remove signal lists."),
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attr} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # list from the table, without importing every command module
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][2]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flagstream")
def cli() -> None:
    """flagstream: label a Kafka firehose for spam, scams, abuse and hate, inline."""


def main() -> None:
    cli()
