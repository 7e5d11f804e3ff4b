"""Reports over many results: the collection report of ``ferkit report``."""

from ferkit.report.collection import write_collection_report

__all__ = ["write_collection_report"]
