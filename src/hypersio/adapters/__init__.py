"""Step 3: where broadcasts go. ``memory.InMemoryAdapter`` (rooms of one process), the room walk
(``rooms``, a twin family), connection state recovery (``recovery``).
"""
