"""Connections, local fan-out, bounded per-connection queues, resume, presence and typing."""
