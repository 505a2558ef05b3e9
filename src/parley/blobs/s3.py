"""Blobs in an S3 bucket (AWS, MinIO, Ceph, Garage, moto...) through aiobotocore.

`s3://bucket?endpoint=http://host:port&region=us-east-1&prefix=parley/`. Credentials come from the
usual AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or files, as for any AWS client.
Objects are `<prefix>blobs/<sha256>`. A stream whose hash is not known yet goes to
`<prefix>tmp/<uuid>` in parts of PART bytes (multipart upload: memory stays at one part), and is
copied into place by the server once it is whole; an aborted one is aborted (nothing billed or
left), and the bucket should have a lifecycle rule expiring `tmp/` for the rare process killed
in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from parley.blobs.base import CHUNK, KEY, Blob, BlobError, BlobStore, check_key, file_sha256

PART = 8 * 1024 * 1024  # S3's smallest part is 5 MiB
# Storing a blob that is there already makes it young again (see base.py) by copying it onto itself,
# a request done only when it is older than this: far younger than any sweep's cut-off.
TOUCH_AFTER_S = 3600.0


def parse_url(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError("use s3://bucket?endpoint=https://host:port")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {"bucket": parts.netloc, "endpoint": query.get("endpoint", ""),
            "region": query.get("region", "us-east-1"), "prefix": query.get("prefix", "")}


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "NoSuchBucket")


class S3Blobs(BlobStore):
    shared = True

    def __init__(self, url: str) -> None:
        spec = parse_url(url)
        self.bucket, self.prefix = spec["bucket"], spec["prefix"]
        self._endpoint, self._region = spec["endpoint"] or None, spec["region"]
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None

    def _key(self, key: str) -> str:
        return f"{self.prefix}blobs/{check_key(key)}"

    async def start(self) -> None:
        stack = contextlib.AsyncExitStack()
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"},
                        connect_timeout=5, read_timeout=60)
        self._client = await stack.enter_async_context(get_session().create_client(
            "s3", endpoint_url=self._endpoint, region_name=self._region, config=config))
        self._stack = stack
        try:
            await self._ensure_bucket()
        except BaseException:
            await self.close()
            raise

    async def _ensure_bucket(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if not _missing(exc):
                raise BlobError(f"PARLEY_MEDIA_URL: bucket {self.bucket!r} is not usable: {exc}") from None
            await self._client.create_bucket(Bucket=self.bucket)
        except (BotoCoreError, OSError) as exc:
            raise BlobError(f"PARLEY_MEDIA_URL: cannot reach S3 at {self._endpoint or 'AWS'}: {exc}") from None

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> Blob:
        digest, size, buffer = hashlib.sha256(), 0, bytearray()
        upload: _Multipart | None = None
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                if len(buffer) >= PART:
                    if upload is None:
                        upload = await _Multipart.begin(self._client, self.bucket, f"{self.prefix}tmp/{uuid.uuid4().hex}")
                    await upload.part(bytes(buffer))
                    buffer.clear()
            key = digest.hexdigest()
            if upload is None:  # small: one request straight into place
                if not await self._keep(key):
                    await self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=bytes(buffer))
                return Blob(key, size)
            if buffer:
                await upload.part(bytes(buffer))
            await upload.complete()
            try:
                if not await self._keep(key):
                    await self._client.copy_object(Bucket=self.bucket, Key=self._key(key),
                                                   CopySource={"Bucket": self.bucket, "Key": upload.key})
            finally:
                await self._client.delete_object(Bucket=self.bucket, Key=upload.key)
            return Blob(key, size)
        except BaseException:
            if upload is not None and not upload.done:
                with contextlib.suppress(Exception):
                    await upload.abort()
            raise

    async def put_file(self, path: str, known: Blob | None = None) -> Blob:
        key, size = (known.key, known.size) if known else await asyncio.to_thread(file_sha256, path)
        if await self._keep(key):
            return Blob(key, size)
        with open(path, "rb") as f:
            if size <= PART:
                await self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=f.read())
                return Blob(key, size)
            upload = await _Multipart.begin(self._client, self.bucket, self._key(key))
            try:
                while part := f.read(PART):
                    await upload.part(part)
                await upload.complete()
            except BaseException:
                with contextlib.suppress(Exception):
                    await upload.abort()
                raise
        return Blob(key, size)

    async def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        extra = {"Range": f"bytes={start}-{'' if end is None else end - 1}"} if start or end is not None else {}
        try:
            answer = await self._client.get_object(Bucket=self.bucket, Key=self._key(key), **extra)
        except ClientError as exc:
            if _missing(exc) or exc.response.get("Error", {}).get("Code") == "InvalidRange":
                raise KeyError(key) from None
            raise
        body = answer["Body"]
        try:
            while chunk := await body.read(CHUNK):
                yield chunk
        finally:
            body.close()

    async def size(self, key: str) -> int | None:
        head = await self._head(key)
        return None if head is None else int(head["ContentLength"])

    async def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return await self._client.head_object(Bucket=self.bucket, Key=self._key(key))  # type: ignore[no-any-return]
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    async def _keep(self, key: str) -> bool:
        """Is the blob stored already? If so and it is not young, make it young again."""
        head = await self._head(key)
        if head is None:
            return False
        if head["LastModified"].timestamp() < time.time() - TOUCH_AFTER_S:
            await self._client.copy_object(Bucket=self.bucket, Key=self._key(key), MetadataDirective="REPLACE",
                                           CopySource={"Bucket": self.bucket, "Key": self._key(key)})
        return True

    async def delete(self, key: str, *, older_than: float | None = None) -> bool:
        if older_than is not None:
            head = await self._head(key)
            if head is None or head["LastModified"].timestamp() >= older_than:
                return False
        await self._client.delete_object(Bucket=self.bucket, Key=self._key(key))  # absent: S3 does not say
        return True

    async def keys_older_than(self, cutoff_epoch_s: float) -> AsyncIterator[str]:
        prefix = f"{self.prefix}blobs/"
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        async for page in pages:
            for item in page.get("Contents", ()):
                key = item["Key"][len(prefix):]
                if KEY.match(key) and item["LastModified"].timestamp() < cutoff_epoch_s:
                    yield key


class _Multipart:
    def __init__(self, client: Any, bucket: str, key: str, upload_id: str) -> None:
        self.client, self.bucket, self.key, self.upload_id = client, bucket, key, upload_id
        self.parts: list[dict[str, Any]] = []
        self.done = False

    @classmethod
    async def begin(cls, client: Any, bucket: str, key: str) -> _Multipart:
        answer = await client.create_multipart_upload(Bucket=bucket, Key=key)
        return cls(client, bucket, key, answer["UploadId"])

    async def part(self, data: bytes) -> None:
        number = len(self.parts) + 1
        answer = await self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                               PartNumber=number, Body=data)
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    async def complete(self) -> None:
        await self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                                    MultipartUpload={"Parts": self.parts})
        self.done = True

    async def abort(self) -> None:
        self.done = True
        await self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
