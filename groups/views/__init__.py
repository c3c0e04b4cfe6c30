"""The console's pages and JSON API: one module per page family, their shared helpers in `common`.

Views stay short: fetch with an access check, call domain code, render or redirect.
"""
