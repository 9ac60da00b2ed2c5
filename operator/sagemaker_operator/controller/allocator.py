"""What the operator asks of glibc's malloc: fewer arenas, and free memory given back.

Both are no-ops without glibc (musl has neither mallopt nor malloc_trim).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from typing import Any

# glibc's mallopt parameter for the number of malloc arenas (malloc.h).
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


@functools.cache
def _libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def fewer_malloc_arenas() -> bool:
    """Let glibc's malloc keep MALLOC_ARENAS arenas instead of one per thread that
    allocates (up to 8 a core): the operator's threads (SageMaker calls) each grew an
    arena that was never given back, tens of MB in all (`make bench` measures it). What
    MALLOC_ARENA_MAX=2 does, unless that is set; nothing without glibc."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return bool(_libc().mallopt(M_ARENA_MAX, MALLOC_ARENAS))
    except AttributeError:  # not glibc, or no libc found
        return False


def release_free_memory() -> bool:
    """Give the heap's free pages back to the system (glibc's malloc_trim): after a burst
    (2000 resources created, 2000 statuses written in one tick) glibc keeps what it freed,
    and RSS stays at the peak; 46 MB of 206 at 2000 jobs (`make bench`). A few
    milliseconds; the tracker calls it once a tick."""
    try:
        return bool(_libc().malloc_trim(0))
    except AttributeError:
        return False
