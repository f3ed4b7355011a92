"""Metrics: what a Socket.IO server did, as Prometheus series, computed only when scraped.

``Server(metrics=True)`` serves them at ``GET /metrics`` on its own port; ``hypersio.metrics``
(the face) re-exports :class:`Metrics`, and :meth:`Metrics.register` adds them to a
``prometheus_client`` registry (the ``hypersio[metrics]`` extra) for applications that already
expose one.

Nothing here runs per message. The counters are plain integers the layers below keep anyway,
on objects that exist anyway: each HTTP/WebSocket connection counts its bytes and volatile drops
(in C in the compiled twin) and folds them into the engine's ``EngineStats`` when it closes; each
connection's router counts the EVENT packets it decodes; each namespace's adapter counts its
fan-outs and the packets they and ``socket.emit`` handed out; the server counts connections by
transport and disconnections by reason. A scrape sums what is still open and adds what was
folded. The one thing measured only when metrics are on is the ack latency: the sockets then
note when they asked for an ack.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

__all__ = ["DEFAULT_BUCKETS", "Family", "LatencyHistogram", "Metrics", "MetricsSource", "render"]

#: Ack latency buckets in seconds (upper bounds; +Inf is implied), as prometheus_client's default.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class LatencyHistogram:
    """A Prometheus histogram of seconds: one list increment per :meth:`observe`."""

    __slots__ = ("buckets", "counts", "sum", "count")

    def __init__(self, buckets: Iterable[float] = DEFAULT_BUCKETS) -> None:
        self.buckets = tuple(sorted(float(b) for b in buckets if b != math.inf))
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        """Count one ack answered after ``seconds``."""
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.sum += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count of observations <= le)`` per bucket, ``+Inf`` last (Prometheus' form)."""
        out: list[tuple[str, int]] = []
        total = 0
        for bound, n in zip((*self.buckets, math.inf), self.counts, strict=True):
            total += n
            out.append(("+Inf" if bound == math.inf else _number(bound), total))
        return out


class MetricsSource(Protocol):
    """What the metrics read of a server (``hypersio.Server`` implements it)."""

    @property
    def namespaces(self) -> Mapping[str, Any]:
        """Namespace name -> namespace (``sockets``, ``adapter``, ``socket_observers``)."""
        ...

    @property
    def namespace_observers(self) -> list[Any]:
        """Called with each namespace created from now on."""
        ...

    def traffic(self) -> dict[str, Any]:
        """The server's counters (see ``hypersio.Server.traffic``)."""
        ...


#: One metric family: name (without ``_total``), type, help, and ``(suffix, labels, value)`` samples.
Family = tuple[str, str, str, list[tuple[str, dict[str, str], float]]]


class Metrics:
    """The Prometheus view of one ``hypersio.Server``.

    ``Metrics(sio)`` starts measuring ack latency on every namespace (existing and future) and
    reads everything else from the server's own counters when :meth:`collect` or :meth:`render`
    is called. ``Server(metrics=True)`` makes one (``sio.metrics``) and serves :meth:`render` at
    ``GET /metrics``; call :meth:`register` to expose the same series through prometheus_client.
    ``prefix`` starts every series name.
    """

    def __init__(self, sio: MetricsSource, *, prefix: str = "hypersio", buckets: Iterable[float] = DEFAULT_BUCKETS):
        self.server = sio
        self.prefix = prefix
        self.ack_latency = LatencyHistogram(buckets)
        self._observe = self.ack_latency.observe
        for nsp in list(sio.namespaces.values()):
            self._watch(nsp)
        sio.namespace_observers.append(self._watch)

    def _watch(self, nsp: Any) -> None:
        nsp.socket_observers.append(self._socket_connected)

    def _socket_connected(self, socket: Any) -> None:
        # Acks asked for before the socket was accepted cannot exist: it could not send yet.
        socket.acks.latency_observer = self._observe

    def collect(self) -> list[Family]:
        """Every series now: a list of :data:`Family` tuples (what :meth:`render` prints)."""
        p = self.prefix
        t = self.server.traffic()
        sockets = [("", {"namespace": name}, float(len(nsp.sockets))) for name, nsp in self.server.namespaces.items()]
        by_transport = t["sessions_by_transport"]
        opened = t["connections_by_transport"]
        transports = sorted(set(by_transport) | set(opened) | {"polling", "websocket"})
        reasons = t["disconnections_by_reason"]
        latency = self.ack_latency
        histogram: list[tuple[str, dict[str, str], float]] = [
            ("_bucket", {"le": le}, float(n)) for le, n in latency.cumulative()
        ]
        histogram += [("_sum", {}, latency.sum), ("_count", {}, float(latency.count))]
        return [
            (f"{p}_sockets_connected", "gauge", "Sockets connected, per namespace.", sockets),
            (
                f"{p}_engine_sessions",
                "gauge",
                "Engine.IO sessions open, by the transport carrying them now.",
                [("", {"transport": tr}, float(by_transport.get(tr, 0))) for tr in transports],
            ),
            (
                f"{p}_connections",
                "counter",
                "Engine.IO sessions opened, by the transport of their handshake.",
                [("_total", {"transport": tr}, float(opened.get(tr, 0))) for tr in transports],
            ),
            (
                f"{p}_upgrades",
                "counter",
                "Sessions upgraded from long-polling to WebSocket.",
                [("_total", {}, float(t["upgrades"]))],
            ),
            (
                f"{p}_disconnections",
                "counter",
                "Engine.IO sessions closed, by reason.",
                [("_total", {"reason": r}, float(n)) for r, n in sorted(reasons.items())],
            ),
            (f"{p}_events_received", "counter", "EVENT packets received.", [("_total", {}, float(t["events_in"]))]),
            (
                f"{p}_events_sent",
                "counter",
                "EVENT packets handed to sockets (one per recipient of a broadcast).",
                [("_total", {}, float(t["events_out"]))],
            ),
            (
                f"{p}_broadcasts",
                "counter",
                "Broadcasts delivered to this process's sockets (one per fan-out).",
                [("_total", {}, float(t["broadcasts"]))],
            ),
            (
                f"{p}_bytes_received",
                "counter",
                "Bytes read from client connections (HTTP and WebSocket, headers included).",
                [("_total", {}, float(t["bytes_in"]))],
            ),
            (
                f"{p}_bytes_sent",
                "counter",
                "Bytes written to client connections (HTTP and WebSocket, headers included).",
                [("_total", {}, float(t["bytes_out"]))],
            ),
            (
                f"{p}_volatile_dropped",
                "counter",
                "Volatile messages dropped because the client could not take them.",
                [("_total", {}, float(t["volatile_dropped"]))],
            ),
            (
                f"{p}_slow_client_closes",
                "counter",
                "Connections closed because the client did not read (write buffer limit).",
                [("_total", {}, float(t["slow_closes"]))],
            ),
            (
                f"{p}_memory_budget_closes",
                "counter",
                "Connections closed because the buffered output or the unfinished incoming packets "
                "of all connections passed their limit (max_buffered_output, max_unfinished_input).",
                [("_total", {}, float(t.get("budget_closes", 0)))],
            ),
            (
                f"{p}_memory_budget_bytes",
                "gauge",
                "Bytes counted against the memory budget now: output waiting for slow clients, "
                "unfinished incoming packets.",
                [
                    ("", {"kind": "output"}, float(t.get("buffered_output", 0))),
                    ("", {"kind": "input"}, float(t.get("unfinished_input", 0))),
                ],
            ),
            (
                f"{p}_parse_errors",
                "counter",
                "Sessions closed because the client sent something that did not parse.",
                [("_total", {}, float(reasons.get("parse error", 0)))],
            ),
            (
                f"{p}_ack_latency_seconds",
                "histogram",
                "Seconds from asking a client for an ack to its answer.",
                histogram,
            ),
        ]

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4) of :meth:`collect`."""
        return render(self.collect())

    def register(self, registry: Any = None) -> Any:
        """Expose these series through prometheus_client (``pip install hypersio[metrics]``).

        ``registry`` defaults to prometheus_client's global ``REGISTRY``; returns the collector
        registered (pass it to ``registry.unregister`` to stop).
        """
        try:
            import prometheus_client
            from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("Metrics.register needs prometheus_client: pip install 'hypersio[metrics]'") from exc
        metrics = self

        class _Collector:
            def collect(self) -> Iterator[Any]:
                for name, kind, doc, samples in metrics.collect():
                    if kind == "histogram":
                        buckets = [(s[1]["le"], s[2]) for s in samples if s[0] == "_bucket"]
                        total = next(s[2] for s in samples if s[0] == "_sum")
                        family: Any = HistogramMetricFamily(name, doc, buckets=buckets, sum_value=total)
                        yield family
                        continue
                    keys = sorted({k for s in samples for k in s[1]})
                    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
                    family = cls(name, doc, labels=keys)
                    for _suffix, labels, value in samples:
                        family.add_metric([labels[k] for k in keys], value)
                    yield family

        collector = _Collector()
        (registry if registry is not None else prometheus_client.REGISTRY).register(collector)
        return collector


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(families: Iterable[Family]) -> str:
    """Families as Prometheus text: ``# HELP``, ``# TYPE``, then one line per sample."""
    lines: list[str] = []
    for name, kind, doc, samples in families:
        shown = f"{name}_total" if kind == "counter" else name
        lines.append(f"# HELP {shown} {doc}")
        lines.append(f"# TYPE {shown} {kind}")
        for suffix, labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            braces = f"{{{label_text}}}" if label_text else ""
            lines.append(f"{name}{suffix}{braces} {_number(value)}")
    return "\n".join(lines) + "\n"
