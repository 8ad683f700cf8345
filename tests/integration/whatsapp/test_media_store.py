"""AiohttpMediaStore against the fake Graph API over real HTTP: Meta's two calls with the bearer token, the
checksum and size limits, the disk copy and its budget; no token or URL in errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from pathlib import Path

import aiohttp
import httpx
import pytest

from adapters.whatsapp.media import AiohttpMediaStore
from application.ports.media import (
    MediaCorrupted,
    MediaGone,
    MediaTokenRejected,
    MediaTooLarge,
    MediaUnavailable,
)
from tests.fake_graph import FakeGraphServer
from tests.integration.whatsapp.conftest import API_VERSION, PHONE, TOKEN

pytestmark = pytest.mark.integration

JPEG = b"\xff\xd8\xff\xe0" + os.urandom(300_000) + b"\xff\xd9"


def store(fake: FakeGraphServer, session: aiohttp.ClientSession, data_dir: Path,
          cache_bytes: int = 0) -> AiohttpMediaStore:
    return AiohttpMediaStore(session, base_url=fake.base_url, api_version=API_VERSION, data_dir=data_dir,
                             cache_bytes=cache_bytes)


async def test_fetch_uses_the_token_on_both_calls_and_verifies_the_bytes(
        fake_graph: FakeGraphServer, graph_session: aiohttp.ClientSession, tmp_path: Path) -> None:
    fake_graph.add_media("1479537139650973", JPEG, "image/jpeg", PHONE)
    media_store = store(fake_graph, graph_session, tmp_path)
    found = await media_store.fetch(media_id="1479537139650973", phone_number_id=PHONE, access_token=TOKEN,
                                    max_bytes=10_000_000)
    assert (found.mime_type, found.size, found.temporary) == ("image/jpeg", len(JPEG), True)
    assert Path(found.path).read_bytes() == JPEG
    info, download = [r for r in fake_graph.requests if r.status == 200][-2:]
    assert info.path == f"/{API_VERSION}/1479537139650973" and f"phone_number_id={PHONE}" in info.query
    assert download.path == "/whatsapp_business/attachments/" and download.token_valid
    media_store.release(found)
    assert not Path(found.path).exists()


async def test_base64_checksums_like_the_webhooks_are_accepted(
        fake_graph: FakeGraphServer, graph_session: aiohttp.ClientSession, tmp_path: Path) -> None:
    fake_graph.add_media("m-b64", JPEG, "image/jpeg", PHONE,
                         sha256=base64.b64encode(hashlib.sha256(JPEG).digest()).decode())
    found = await store(fake_graph, graph_session, tmp_path).fetch(
        media_id="m-b64", phone_number_id=PHONE, access_token=TOKEN, max_bytes=10_000_000)
    assert found.size == len(JPEG)


async def test_a_wrong_checksum_is_refused_and_leaves_no_file(
        fake_graph: FakeGraphServer, graph_session: aiohttp.ClientSession, tmp_path: Path) -> None:
    fake_graph.add_media("m-bad", JPEG, "image/jpeg", PHONE, sha256="0" * 64)
    with pytest.raises(MediaCorrupted):
        await store(fake_graph, graph_session, tmp_path, cache_bytes=10**9).fetch(
            media_id="m-bad", phone_number_id=PHONE, access_token=TOKEN, max_bytes=10_000_000)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def test_size_limit_from_the_metadata_and_while_downloading(
        fake_graph: FakeGraphServer, graph_session: aiohttp.ClientSession, tmp_path: Path) -> None:
    fake_graph.add_media("m-big", JPEG, "image/jpeg", PHONE)
    with pytest.raises(MediaTooLarge):
        await store(fake_graph, graph_session, tmp_path).fetch(
            media_id="m-big", phone_number_id=PHONE, access_token=TOKEN, max_bytes=len(JPEG) - 1)
    assert fake_graph.media("m-big").downloads == 0  # refused on Meta's file_size, before the download  # type: ignore[union-attr]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def test_errors_carry_neither_the_token_nor_the_url(
        fake_graph: FakeGraphServer, graph_session: aiohttp.ClientSession, tmp_path: Path) -> None:
    media_store = store(fake_graph, graph_session, tmp_path)
    fake_graph.add_media("m-1", JPEG, "image/jpeg", PHONE)
    with pytest.raises(MediaTokenRejected) as rejected:
        await media_store.fetch(media_id="m-1", phone_number_id=PHONE, access_token="EAAG-wrong-SECRET",
                                max_bytes=10_000_000)
    with pytest.raises(MediaGone) as gone:
        await media_store.fetch(media_id="m-unknown", phone_number_id=PHONE, access_token=TOKEN,
                                max_bytes=10_000_000)
    fake_graph.add_media("m-expiring", JPEG, "image/jpeg", PHONE, url_ttl=-1)  # the URL runs out at once
    with pytest.raises(MediaUnavailable) as expired:
        await media_store.fetch(media_id="m-expiring", phone_number_id=PHONE, access_token=TOKEN,
                                max_bytes=10_000_000)
    for error in (rejected.value, gone.value, expired.value):
        assert "SECRET" not in str(error) and "whatsapp_business" not in str(error) and "http" not in str(error)


async def test_the_disk_copy_serves_later_requests_within_its_budget(
        fake_graph: FakeGraphServer, graph_session: aiohttp.ClientSession, tmp_path: Path) -> None:
    media_store = store(fake_graph, graph_session, tmp_path, cache_bytes=len(JPEG) * 2 + 10)
    for media_id in ("c-1", "c-2", "c-3"):
        fake_graph.add_media(media_id, JPEG, "image/jpeg", PHONE)
    first = await media_store.fetch(media_id="c-1", phone_number_id=PHONE, access_token=TOKEN, max_bytes=10**7)
    again = await media_store.fetch(media_id="c-1", phone_number_id=PHONE, access_token=TOKEN, max_bytes=10**7)
    assert not first.temporary and again.path == first.path
    assert fake_graph.media("c-1").downloads == 1  # type: ignore[union-attr]
    media_store.release(again)  # a copy is not removed by a release
    assert Path(first.path).read_bytes() == JPEG
    os.utime(first.path, (1, 1))  # long ago: the first to go
    await media_store.fetch(media_id="c-2", phone_number_id=PHONE, access_token=TOKEN, max_bytes=10**7)
    await media_store.fetch(media_id="c-3", phone_number_id=PHONE, access_token=TOKEN, max_bytes=10**7)
    copies = [p for p in (tmp_path / "media" / "cache").iterdir() if p.suffix != ".json"]
    assert len(copies) == 2 and not Path(first.path).exists()
    assert sum(p.stat().st_size for p in copies) <= len(JPEG) * 2 + 10


async def test_the_fake_checks_the_bearer_token_the_owner_and_the_url_expiry(
        fake_graph: FakeGraphServer, http_client: httpx.AsyncClient) -> None:
    fake_graph.add_number("999000111222333", "EAAG-other-number")
    fake_graph.add_media("m-own", JPEG, "image/jpeg", PHONE)
    info_url = f"{fake_graph.base_url}/{API_VERSION}/m-own"
    assert (await http_client.get(info_url)).json()["error"]["code"] == 190
    assert (await http_client.get(info_url, headers={"Authorization": "Bearer EAAG-other-number"})).status_code == 401
    wrong_owner = await http_client.get(info_url, params={"phone_number_id": "999000111222333"},
                                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert wrong_owner.json()["error"]["code"] == 100
    info = (await http_client.get(info_url, params={"phone_number_id": PHONE},
                                  headers={"Authorization": f"Bearer {TOKEN}"})).json()
    assert (info["mime_type"], info["file_size"], info["sha256"]) == (
        "image/jpeg", str(len(JPEG)), hashlib.sha256(JPEG).hexdigest())
    assert (await http_client.get(info["url"])).status_code == 401  # the URL needs the token too
    downloaded = await http_client.get(info["url"], headers={"Authorization": f"Bearer {TOKEN}"})
    assert downloaded.content == JPEG and downloaded.headers["content-type"] == "image/jpeg"
    fake_graph.add_media("m-short", JPEG, "image/jpeg", PHONE, url_ttl=0.2)
    short = (await http_client.get(f"{fake_graph.base_url}/{API_VERSION}/m-short",
                                   headers={"Authorization": f"Bearer {TOKEN}"})).json()
    await asyncio.sleep(0.3)
    assert (await http_client.get(short["url"], headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 404


async def test_partial_downloads_left_by_a_crash_are_swept(
        fake_graph: FakeGraphServer, graph_session: aiohttp.ClientSession, tmp_path: Path) -> None:
    leftovers = tmp_path / "media" / "tmp"
    leftovers.mkdir(parents=True)
    old, recent = leftovers / "dead.part", leftovers / "inflight.part"
    old.write_bytes(b"x")
    recent.write_bytes(b"y")
    os.utime(old, (1, 1))
    fake_graph.add_media("m-sweep", JPEG, "image/jpeg", PHONE)
    await store(fake_graph, graph_session, tmp_path).fetch(media_id="m-sweep", phone_number_id=PHONE,
                                                           access_token=TOKEN, max_bytes=10**7)
    assert not old.exists() and recent.exists()
