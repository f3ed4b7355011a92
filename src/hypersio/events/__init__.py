"""Step 3, shared by both ends: the event emitter, handler shapes, acks, and the incoming-event
dispatch (a twin family, see ``hypersio._speedups``) with the protocols its owners implement
(``targets``).
"""
