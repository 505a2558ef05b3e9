"""Use cases. The only place events are emitted, and only after the write commits."""
