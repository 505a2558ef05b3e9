"""Files: upload throughput, concurrent downloads, and what an image costs to process.

Starts a server on a fresh SQLite file with its media folder in a temporary folder, then measures:
1. uploads: `--uploads` files of `--upload-mb` MB of random bytes, one after the other (multipart,
   streamed), reporting MB/s and server CPU per MB;
2. downloads: one 10 MB file attached to a message, fetched by `--clients` concurrent clients
   `--rounds` times each (GET /media/..., bearer auth), reporting MB/s and server CPU per MB;
3. images: `--images` JPEG photos of 12 megapixels (4000 x 3000, noise, with EXIF), uploaded one
   after the other, reporting wall time and server CPU per image (metadata stripped, re-encoded,
   WebP thumbnail).

    .venv/bin/python bench/uploads.py [--upload-mb 100] [--uploads 5] [--clients 50] [--images 10]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Api, CpuMeter, Server, add_server_args, emit_json, run, run_id  # noqa: E402

MB = 1024 * 1024
BOUNDARY = "benchboundary"


async def _body(size: int, block: bytes) -> object:
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def upload(http: aiohttp.ClientSession, base: str, room: int, data: object, headers: dict) -> dict:
    async with http.post(f"{base}/api/v1/rooms/{room}/uploads", data=data,
                         headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}) as r:
        body = await r.json()
        assert r.status == 201, body
        return body["upload"]


def photo(seed: int) -> bytes:
    im = Image.effect_noise((4000, 3000), 40 + seed).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def _file_body(data: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


async def measure(server: Server, args: argparse.Namespace) -> dict:
    api = Api(server.base_url)
    result: dict = {"bench": "uploads"}
    try:
        _, token = await api.register(f"up{run_id()}")
        room = await api.create_room(token, f"files {run_id()}")
        headers = {"Authorization": f"Bearer {token}"}
        meter = CpuMeter(server.cpu_pids(), [os.getpid()])
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            block = os.urandom(MB)
            start, t0 = meter.snap(), time.monotonic()
            for _ in range(args.uploads):
                await upload(http, server.base_url, room, _body(args.upload_mb * MB, block), headers)
            cpu = CpuMeter.diff(start, meter.snap())
            total = args.uploads * args.upload_mb
            result.update(upload_mb_s=total / (time.monotonic() - t0), upload_cpu_ms_per_mb=cpu["server"] / total * 1000,
                          upload_other_cpu_s=cpu["other"])

            ten = await upload(http, server.base_url, room, _body(10 * MB, os.urandom(10 * MB)), headers)
            await api.call("POST", f"/rooms/{room}/messages", token, {"attachments": [ten["id"]]})
            url = server.base_url + ten["url"]

            async def fetch_all() -> int:
                got = 0
                for _ in range(args.rounds):
                    async with http.get(url, headers=headers) as r:
                        assert r.status == 200
                        async for chunk in r.content.iter_chunked(1 << 18):
                            got += len(chunk)
                return got

            start, t0 = meter.snap(), time.monotonic()
            got = sum(await asyncio.gather(*(fetch_all() for _ in range(args.clients))))
            cpu = CpuMeter.diff(start, meter.snap())
            assert got == args.clients * args.rounds * 10 * MB
            result.update(download_mb_s=got / MB / (time.monotonic() - t0),
                          download_cpu_ms_per_mb=cpu["server"] / (got / MB) * 1000, download_clients=args.clients,
                          download_gen_cpu_s=cpu["gen"], download_other_cpu_s=cpu["other"])

            photos = [photo(i) for i in range(args.images)]
            start, t0 = meter.snap(), time.monotonic()
            for data in photos:
                shown = await upload(http, server.base_url, room, _file_body(data), headers)
                assert (shown["width"], shown["height"]) == (3000, 4000) and shown["thumbnail_url"]
            cpu = CpuMeter.diff(start, meter.snap())
            result.update(image_ms=(time.monotonic() - t0) / args.images * 1000,
                          image_cpu_ms=cpu["server"] / args.images * 1000,
                          image_mb=sum(map(len, photos)) / len(photos) / MB)
    finally:
        await api.close()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upload-mb", type=int, default=100)
    p.add_argument("--uploads", type=int, default=5)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--images", type=int, default=10)
    add_server_args(p)
    args = p.parse_args()
    media = tempfile.mkdtemp(prefix="parley-bench-media-")
    limit = str(max(args.upload_mb, 20) * MB)
    server = Server.from_args(args, {"PARLEY_MEDIA_URL": f"file://{media}", "PARLEY_MAX_UPLOAD_BYTES": limit,
                                     "PARLEY_UPLOAD_QUOTA_BYTES": str(1 << 40)})
    try:
        r = run(measure(server, args))
    finally:
        server.stop()
    print(f"uploads: {args.uploads} x {args.upload_mb} MB  {r['upload_mb_s']:.0f} MB/s  "
          f"server CPU {r['upload_cpu_ms_per_mb']:.1f} ms/MB")
    print(f"downloads: {args.clients} clients x {args.rounds} x 10 MB  {r['download_mb_s']:.0f} MB/s  "
          f"server CPU {r['download_cpu_ms_per_mb']:.2f} ms/MB  (generator CPU {r['download_gen_cpu_s']:.1f} s)")
    print(f"images: {args.images} JPEG 4000x3000 ({r['image_mb']:.1f} MB)  {r['image_ms']:.0f} ms each  "
          f"server CPU {r['image_cpu_ms']:.0f} ms/image")
    emit_json(args.json, r)


if __name__ == "__main__":
    main()
