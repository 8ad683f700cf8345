"""``MediaStore`` over aiohttp and the disk: Meta's two-step media download, verified, optionally cached.

1. ``GET /{version}/{media_id}?phone_number_id=...`` with the number's token: ``url`` (short-lived),
   ``mime_type``, ``sha256``, ``file_size``;
2. ``GET url`` with the same bearer token: the bytes, streamed to a file under ``<data dir>/media/tmp`` while
   counted (more than ``max_bytes`` stops the download) and hashed; the SHA-256 must match Meta's (hex, or the
   base64 the webhooks use).

With a cache budget, the verified file moves to ``<data dir>/media/cache`` (named after the number and media
id) and later requests are served from it; the least recently served copies go first when the budget is
exceeded. The token and the URL are never logged nor put in an error.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog

from application.ports.media import (
    MediaCorrupted,
    MediaFile,
    MediaGone,
    MediaStore,
    MediaTokenRejected,
    MediaTooLarge,
    MediaUnavailable,
)

log = structlog.get_logger("pytake.media")

_CHUNK = 256 * 1024
_RECENT_SECONDS = 60.0  # a copy served this recently is not evicted (it may be being sent)
_ABANDONED_SECONDS = 3600.0
_DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=60.0)


class AiohttpMediaStore(MediaStore):
    def __init__(self, session: aiohttp.ClientSession, *, base_url: str, api_version: str, data_dir: Path,
                 cache_bytes: int) -> None:
        version = api_version.strip("/")
        self._session = session
        self._root = f"{base_url.rstrip('/')}/{version if version.startswith('v') else 'v' + version}"
        self._tmp, self._cache = data_dir / "media" / "tmp", data_dir / "media" / "cache"
        self._cache_bytes = cache_bytes
        self._evicting = asyncio.Lock()

    async def fetch(self, *, media_id: str, phone_number_id: str, access_token: str, max_bytes: int) -> MediaFile:
        cached = self._cached(media_id, phone_number_id)
        if cached is not None:
            return cached
        info = await self._info(media_id, phone_number_id, access_token)
        declared = _int_or_none(info.get("file_size"))
        if declared is not None and declared > max_bytes:
            raise MediaTooLarge()
        url, mime_type = info.get("url"), info.get("mime_type")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise MediaUnavailable("WhatsApp gave no download address for this media.")
        mime = mime_type if isinstance(mime_type, str) and mime_type else "application/octet-stream"
        path, size = await self._download(url, access_token, max_bytes, info.get("sha256"))
        if 0 < size <= self._cache_bytes:
            return await self._keep(path, media_id, phone_number_id, mime, size)
        return MediaFile(path=str(path), mime_type=mime, size=size, temporary=True)

    def release(self, media: MediaFile) -> None:
        if media.temporary:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(media.path)

    # --- Graph ----------------------------------------------------------------------------------

    async def _info(self, media_id: str, phone_number_id: str, access_token: str) -> dict[str, Any]:
        url = f"{self._root}/{quote(media_id, safe='')}"
        try:
            async with self._session.get(url, params={"phone_number_id": phone_number_id}, allow_redirects=False,
                                         headers=_auth(access_token)) as response:
                status, raw = response.status, await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise MediaUnavailable(f"The Graph API could not be reached ({type(exc).__name__}).") from None
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if 200 <= status < 300 and isinstance(payload, dict) and "error" not in payload:
            return payload
        error = payload.get("error") if isinstance(payload, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        log.warning("media.graph_error", media_id=media_id, http_status=status, code=code)
        if code == 190 or status == 401:
            raise MediaTokenRejected()
        if code == 100 or status == 404:
            raise MediaGone()
        raise MediaUnavailable()

    async def _download(self, url: str, access_token: str, max_bytes: int, sha256: object) -> tuple[Path, int]:
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._sweep_abandoned()
        path = self._tmp / f"{os.urandom(16).hex()}.part"
        digest, size = hashlib.sha256(), 0
        try:
            async with self._session.get(url, headers=_auth(access_token), allow_redirects=False,
                                         timeout=_DOWNLOAD_TIMEOUT) as response:
                if response.status == 401:
                    raise MediaTokenRejected()
                if response.status == 404:  # the URL ran out between the two calls: asking again works
                    raise MediaUnavailable("The media's download address expired; try again.")
                if not 200 <= response.status < 300:
                    raise MediaUnavailable()
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    raise MediaTooLarge()
                with open(path, "wb") as out:
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise MediaTooLarge()
                        digest.update(chunk)
                        out.write(chunk)
        except (TimeoutError, aiohttp.ClientError) as exc:
            _unlink(path)
            raise MediaUnavailable(f"The media download failed ({type(exc).__name__}).") from None
        except BaseException:
            _unlink(path)
            raise
        if isinstance(sha256, str) and sha256 and not _matches(digest.digest(), sha256):
            _unlink(path)
            log.warning("media.checksum_mismatch", size=size)
            raise MediaCorrupted()
        return path, size

    def _sweep_abandoned(self) -> None:
        """Partial downloads a crashed process left behind (older than an hour) are removed."""
        cutoff = time.time() - _ABANDONED_SECONDS
        for entry in self._tmp.glob("*.part"):
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()

    # --- cache ----------------------------------------------------------------------------------

    def _key(self, media_id: str, phone_number_id: str) -> Path:
        name = hashlib.sha256(f"{phone_number_id}\0{media_id}".encode()).hexdigest()
        return self._cache / name

    def _cached(self, media_id: str, phone_number_id: str) -> MediaFile | None:
        if self._cache_bytes <= 0:
            return None
        path = self._key(media_id, phone_number_id)
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            size = path.stat().st_size
            os.utime(path)  # served now: the last to be evicted
        except (OSError, ValueError):
            return None
        mime = meta.get("mime_type") if isinstance(meta, dict) else None
        return MediaFile(path=str(path), mime_type=mime if isinstance(mime, str) else "application/octet-stream",
                         size=size, temporary=False)

    async def _keep(self, path: Path, media_id: str, phone_number_id: str, mime: str, size: int) -> MediaFile:
        target = self._key(media_id, phone_number_id)
        self._cache.mkdir(parents=True, exist_ok=True)
        target.with_suffix(".json").write_text(json.dumps({"mime_type": mime}))
        os.replace(path, target)
        async with self._evicting:
            self._evict(keep=target)
        return MediaFile(path=str(target), mime_type=mime, size=size, temporary=False)

    def _evict(self, keep: Path) -> None:
        files = []
        for entry in self._cache.glob("*"):
            if entry.suffix == ".json":
                continue
            with contextlib.suppress(OSError):
                stat = entry.stat()
                files.append((stat.st_mtime, stat.st_size, entry))
        total = sum(size for _, size, _ in files)
        now = time.time()
        for mtime, size, entry in sorted(files):
            if total <= self._cache_bytes:
                break
            if entry == keep or now - mtime < _RECENT_SECONDS:
                continue
            _unlink(entry)
            _unlink(entry.with_suffix(".json"))
            total -= size


def _auth(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def _matches(digest: bytes, expected: str) -> bool:
    value = expected.strip()
    if value.lower() == digest.hex():
        return True
    return value == base64.b64encode(digest).decode() or value == base64.urlsafe_b64encode(digest).decode()


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
