"""The only code that creates or moves Operation rows.

`lifecycle` is the one lifecycle every operation goes through (request, claim, lock, run,
finish, reap); `resets`, `offset_deletions`, `share_resets`, `share_deletions`, `replays` and
`replay_run` supply their kinds' steps; `approvals` holds the four-eyes decisions. Importing the
package registers every kind with the lifecycle.
"""

from groups.operations import offset_deletions, replay_run, replays, resets, share_deletions, share_resets

__all__ = ["offset_deletions", "replay_run", "replays", "resets", "share_deletions", "share_resets"]
