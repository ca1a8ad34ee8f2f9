"""authsec for Python. The API is :mod:`authsec_sdk.runtime`."""

from ._native import version

__all__ = ["version"]
