"""Metric names flagstream declares (streams/metrics.py), as Prometheus sees them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.metrics import LagExporterMetrics, NetworkMetrics, WorkerMetrics

# the sample names each metric type exposes, from the family name
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created", ""),
    "info": ("_info",),
    "gauge": ("",),
}


def _names(registry: CollectorRegistry) -> set[str]:
    return {
        family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]
    }


def declared_metric_names() -> set[str]:
    """Every sample name the worker and the lag exporter can export."""
    worker = CollectorRegistry()
    WorkerMetrics(worker, ["spam"])
    NetworkMetrics(worker)  # with campaigns_enabled
    lag = CollectorRegistry()
    LagExporterMetrics(lag)
    return _names(worker) | _names(lag)


BUILT_IN = {"up", "ALERTS"}
