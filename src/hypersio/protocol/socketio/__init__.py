"""Socket.IO v5 packets without I/O: the JSON codec (socket.io-parser) and the msgpack codec
(socket.io-msgpack-parser), each a twin family, and ``codecs`` which maps ``parser=`` to one.

``hypersio.parser`` and ``hypersio.msgpack_parser`` are the public faces.
"""
