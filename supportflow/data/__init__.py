"""Data that ships with the product: help center, CRM fixture, sample tickets, trained router, policy."""

from pathlib import Path

DATA_DIR = Path(__file__).parent


def data_path(*parts: str) -> Path:
    """Path of a bundled data file, e.g. ``data_path("samples")``."""
    return DATA_DIR.joinpath(*parts)
