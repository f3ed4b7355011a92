"""Turn the ``parser=`` option of Server and AsyncClient into the codec module it names."""

from __future__ import annotations

from types import ModuleType


def parser_module(parser: str | ModuleType) -> ModuleType:
    """Return the packet codec for ``"json"`` (hypersio.protocol.socketio.json_codec) or ``"msgpack"``.

    A module with the same Encoder/Decoder/encode_packet API is accepted as is, so an application
    can plug in its own wire format on both ends.
    """
    if isinstance(parser, ModuleType):
        return parser
    if parser == "json":
        from hypersio.protocol.socketio import json_codec as json_parser

        return json_parser
    if parser == "msgpack":
        from hypersio.protocol.socketio import msgpack_codec as msgpack_parser

        return msgpack_parser
    raise ValueError(f'parser must be "json" or "msgpack", not {parser!r}')
