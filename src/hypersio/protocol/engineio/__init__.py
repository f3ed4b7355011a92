"""Engine.IO v4 without I/O: packet types, packets and long-polling payloads.

``packets`` selects the compiled or the pure twin; ``hypersio.eio_parser`` is its public face.
"""
