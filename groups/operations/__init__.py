"""The only code that creates or moves Operation rows.

`lifecycle` is the one lifecycle every operation goes through (request, claim, lock, run,
finish, reap); `resets` and `replays` supply their kinds' steps; `approvals` holds the four-eyes
decisions. Importing the package registers every kind with the lifecycle.
"""

from groups.operations import replays, resets

__all__ = ["replays", "resets"]
