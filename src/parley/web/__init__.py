"""aiohttp app: thin REST handlers, /ws, static client, middleware."""
