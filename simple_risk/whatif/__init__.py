"""What would a ruleset have done on a recorded day? (``simple-risk replay``, docs/replay.md).

:mod:`.runner` plays a recording through a fresh engine in recorded receive-time order and
keeps every firing with the gateway calls the daemon would have made for it; :mod:`.words`
says those in plain words for the terminal and as JSON.
"""
