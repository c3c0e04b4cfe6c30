"""Python's cyclic garbage collector paused around work that allocates many objects and makes no cycles.

Reference counting frees such objects as they go; the cyclic collector only walks them again and
again, and its full passes walk everything the process holds. Imports nothing of the console's, so
any layer may use it.
"""

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block; it resumes afterwards, unless it was off already."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
