"""Cluster adapters: servers of one application, in one or many processes and machines, acting as
one. ``core`` holds what every protocol shares; ``classic`` (the classic Redis adapter's
protocol) and ``messages`` (socket.io's ClusterAdapter protocol) are the sans-I/O message
layers; ``redis_link`` and ``redis`` (classic), ``redis_sharded`` and ``redis_streams`` put them
on Redis; ``emitter`` publishes from programs that are not servers. ``redis`` (redis-py) is
imported only by ``redis_link``, when a link is made.
"""
