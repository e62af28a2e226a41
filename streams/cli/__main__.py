"""``python -m streams.cli`` runs the ``flagstream`` command."""

from streams.cli.main import main

main()
