"""The ``flagstream`` command line: one module per command."""
