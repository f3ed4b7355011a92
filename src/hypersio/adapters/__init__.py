"""Step 3: where broadcasts go. ``base`` (``BroadcastOptions`` and the protocols of what an adapter
reads from the namespace, server and sockets above it), ``memory.InMemoryAdapter`` (rooms of one
process), the room walk (``rooms``, a twin family), connection state recovery (``recovery``).
Nothing here imports ``hypersio.server``.
"""
