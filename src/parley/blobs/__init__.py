"""Where the bytes of uploads live: a small interface (`base.py`) and its adapters, a local folder
(`local.py`) and S3 or any S3-compatible server (`s3.py`). `app.py` picks one from PARLEY_MEDIA_URL."""
