"""Turn the ``parser=`` option of Server and AsyncClient into the codec module it names."""

from __future__ import annotations

from types import ModuleType


def parser_module(parser: str | ModuleType) -> ModuleType:
    """Return the packet codec for ``"json"`` (hypersio.parser) or ``"msgpack"``.

    A module with the same Encoder/Decoder/encode_packet API is accepted as is, so an application
    can plug in its own wire format on both ends.
    """
    if isinstance(parser, ModuleType):
        return parser
    if parser == "json":
        from . import parser as json_parser

        return json_parser
    if parser == "msgpack":
        from . import msgpack_parser

        return msgpack_parser
    raise ValueError(f'parser must be "json" or "msgpack", not {parser!r}')
