"""Garbage-collector settings for a server process, applied once its start-up is done.

A full (oldest-generation) collection walks every tracked object, and after start-up most of those are
modules, classes and functions that live as long as the process: measured under the benchmark's load,
full collections paused the one event loop for up to 64 ms, every in-flight request with it. Freezing
what start-up built leaves later collections only the objects made since. Young collections ran every
700 net allocations, every few requests, and cost about 3 us per request in all; a higher threshold
keeps their total small (each still walks only the young objects that survive, a few thousand).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # net container allocations between young collections (CPython's default: 700)


def freeze_startup_heap() -> None:
    gc.collect()  # garbage from start-up must not be frozen with the rest: it would never be freed
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
