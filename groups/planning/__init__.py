"""Planning, pure: a request and facts read once become an absolute plan; no Django, no I/O.

`resets` plans offset resets as kafka-consumer-groups does, from the values `inputs` reads as the tool
reads them; `replays` plans copies of record ranges.
"""
