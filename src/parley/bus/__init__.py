"""Fan-out between nodes, and the little shared state nodes need (rate buckets, presence).

The bus is only a wake-up: every room event is in the database before it is published, and a
node or client that misses one fills the gap from there.
"""
