"""Prometheus metrics of a hypersio server: ``Metrics(sio)``, ``GET /metrics``, prometheus_client.

``hypersio.Server(metrics=True)`` serves them on its own port at ``GET /metrics`` (``sio.metrics``
is the :class:`Metrics`); ``sio.metrics.register()`` (or ``Metrics(sio).register(registry)``)
adds the same series to prometheus_client's registry, with the ``hypersio[metrics]`` extra, for
an application that already exposes one. Series (prefix ``hypersio_``): ``sockets_connected``
per namespace, ``engine_sessions`` per transport, ``connections_total`` by handshake transport,
``upgrades_total``, ``disconnections_total`` by reason, ``events_received_total``,
``events_sent_total``, ``broadcasts_total``, ``bytes_received_total``, ``bytes_sent_total``,
``volatile_dropped_total``, ``slow_client_closes_total``, ``parse_errors_total`` and the
``ack_latency_seconds`` histogram. Counting costs no call per message (see
``hypersio.server.metrics``): the numbers are summed when scraped.
"""

from hypersio.server.metrics import DEFAULT_BUCKETS, LatencyHistogram, Metrics, render

__all__ = ["DEFAULT_BUCKETS", "LatencyHistogram", "Metrics", "render"]
