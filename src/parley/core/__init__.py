"""Pure rules and types: no I/O, no imports from any other Parley layer."""
