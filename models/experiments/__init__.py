"""One-off experiments: run by hand (``python -m models.experiments.NAME``), imported by nothing."""
