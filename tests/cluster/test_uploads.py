"""Uploads on several nodes: files stored in S3 (moto's real server) are uploaded through one node
and served by another (a local media folder is refused unless declared shared: test_refusals)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.cluster.helpers import register
from tests.support import media
from tests.support.cluster import Cluster, running_cluster
from tests.support.s3 import S3Server


@pytest.fixture(scope="module")
def s3_cluster(tmp_path_factory: pytest.TempPathFactory, s3: S3Server) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("s3cluster")
    env = {"PARLEY_MEDIA_URL": s3.url(f"parley-{uuid.uuid4().hex[:10]}"), "PARLEY_MEDIA_SHARED": "0"}
    try:
        with running_cluster(workdir, nodes=2, nginx=False, env=env) as cluster:
            yield cluster
    except RuntimeError as exc:
        pytest.fail(f"could not start the cluster: {exc}", pytrace=False)


async def test_upload_on_one_node_download_on_another(s3_cluster: Cluster, session, tmp_path) -> None:
    first, second = s3_cluster.nodes[0].url, s3_cluster.nodes[1].url
    ann = await register(session, first, "ann")
    bob = await register(session, second, "bob")
    room = await ann.create_room(f"files-{uuid.uuid4().hex[:6]}")
    await bob.join(room["id"])
    data = media.video(tmp_path / "clip.webm")
    up = await ann.upload(room["id"], "clip.webm", data, "video/webm")
    assert up["content_type"] == "video/webm" and up["thumbnail_url"]
    await ann.call("POST", f"/api/v1/rooms/{room['id']}/messages", {"attachments": [up["id"]]}, expect=201)
    status, headers, body = await bob.fetch(up["url"])  # bob's client talks to the second node
    assert status == 200 and body == data
    status, headers, body = await bob.fetch(up["url"], {"Range": "bytes=100-199"})
    assert status == 206 and body == data[100:200]
    status, headers, body = await bob.fetch(up["thumbnail_url"])
    assert status == 200 and headers["Content-Type"] == "image/webp" and body[:4] == b"RIFF"

