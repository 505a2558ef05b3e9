"""Where the event stream goes: a small interface (`base.py`) and its adapters, RabbitMQ
(`amqp.py`, aio-pika) and an in-memory one (`memory.py`, one process: tests and development).
`app.py` picks one from PARLEY_EXPORT_URL; `services/export.py` runs the durable cursor."""
