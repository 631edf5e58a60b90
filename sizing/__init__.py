"""Sale sizing from measured capacity: tasks for a rate of reservation attempts, and each data tier's load
against its usable capacity.

One package that the program's configuration and `make capacity` both import, so the arithmetic exists once.
It reads capacity/measured.yaml (measured.py) and capacity/tiers.yaml (tiers.py); the arithmetic itself
(arithmetic.py) takes plain numbers and dataclasses and imports no stack configuration.
"""

from pathlib import Path

CAPACITY_DIR = Path(__file__).resolve().parent.parent / "capacity"


class SizingError(Exception):
    """A figure the sizing needs is missing or unusable; the message says which and where it comes from."""
