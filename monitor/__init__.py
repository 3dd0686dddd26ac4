"""Monitoring of e-commerce listings for misuse of geographical indications and trademarks.

Every stage of the daily run is a plain function in this package; the CLI
(`monitor.cli`) and the Dagster assets (`pipelines`) are thin callers of them.
"""

__version__ = "0.1.0"
