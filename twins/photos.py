"""Photos (照片): checked on upload, kept in one store, served only within a jurisdiction.

- ``check_photo`` accepts JPEG and PNG only, recognised by their bytes (magic numbers, then
  decoded by Pillow) rather than by what the client declares; a declared image type that
  disagrees with the bytes is refused too. It reads the EXIF shooting time when present.
- ``PhotoStore`` is the one storage interface: ``LocalPhotoStore`` (the default, a directory
  under ``data_dir``) and ``S3PhotoStore`` (any S3-compatible server, path-style addressing,
  e.g. MinIO or SeaweedFS). Both are synchronous; async callers run them in a thread.
- The ``photos`` table records every stored photo with its enterprise's jurisdiction keys, so
  a photo is served only to a caller whose scope covers that enterprise.

Errors (all ``PhotoError``, a ``TwinsError``): ``NotAnImageError``, ``PhotoTooLargeError``,
``PhotoNotFoundError`` (also outside the caller's jurisdiction), ``PhotoStoreError`` (the
store failed).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final, Literal, Protocol
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from PIL import ExifTags, Image
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from dusttwin.settings import Settings
from twins.errors import TwinsError
from twins.scope import Scope

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CheckedPhoto",
    "LocalPhotoStore",
    "NotAnImageError",
    "PhotoError",
    "PhotoNotFoundError",
    "PhotoStore",
    "PhotoStoreError",
    "PhotoTooLargeError",
    "S3PhotoStore",
    "StoredPhoto",
    "check_photo",
    "get_photo",
    "photo_key",
    "photo_store_from",
    "photos_of",
    "record_photo",
]

PhotoType = Literal["image/jpeg", "image/png"]
DEFAULT_MAX_BYTES: Final = 5 * 1024 * 1024  # [DEFAULT] 5 MB: a phone photo, not a raw file
CHINA: Final = timezone(timedelta(hours=8), "CST")
# Magic numbers: what the file is, whatever the client says it is.
_MAGIC: Final[tuple[tuple[bytes, PhotoType, str], ...]] = (
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
)
# Declared types that say nothing (a browser that does not know); the bytes decide alone.
_GENERIC_TYPES: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_KEY_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
_EXIF_TIME_FORMAT: Final = "%Y:%m:%d %H:%M:%S"


class PhotoError(TwinsError):
    """Base of the photo errors."""


class NotAnImageError(PhotoError):
    """The upload is not a JPEG or PNG image (or not the type it claims to be)."""


class PhotoTooLargeError(PhotoError):
    """The upload is larger than the configured limit."""


class PhotoNotFoundError(PhotoError):
    """No such photo, or not within the caller's jurisdiction."""


class PhotoStoreError(PhotoError):
    """The photo store (a directory or an S3 server) failed."""


@dataclass(frozen=True)
class CheckedPhoto:
    """An upload that passed ``check_photo``: its real type, size, digest and EXIF time."""

    content_type: PhotoType
    size: int
    sha256: str
    exif_time: datetime | None


def check_photo(
    data: bytes, declared_type: str | None, max_bytes: int = DEFAULT_MAX_BYTES
) -> CheckedPhoto:
    """Accept a JPEG or PNG by its bytes (size, magic number, decodable); read its EXIF time."""
    if len(data) > max_bytes:
        raise PhotoTooLargeError(
            f"the photo has {len(data)} bytes, more than the limit of {max_bytes} bytes"
            f" ({max_bytes / 1024 / 1024:.1f} MB) / 照片超过大小限制"
        )
    found = next(((t, fmt) for magic, t, fmt in _MAGIC if data.startswith(magic)), None)
    if found is None:
        raise NotAnImageError("the file is not a JPEG or PNG image / 文件不是 JPEG 或 PNG 图片")
    content_type, pil_format = found
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared == "image/jpg":
        declared = "image/jpeg"
    if declared not in _GENERIC_TYPES and declared != content_type:
        raise NotAnImageError(
            f"the file was sent as {declared!r} but is a {pil_format} image (content type does"
            f" not match the content) / 声明的文件类型与内容不符"
        )
    try:
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
            image.verify()
        # verify() leaves the image unusable; open it again for its metadata
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
            exif_time = _exif_time(image.getexif())
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise NotAnImageError(
            f"the file starts like a {pil_format} image but cannot be read as one"
            " / 图片已损坏，无法读取"
        ) from err
    return CheckedPhoto(content_type, len(data), hashlib.sha256(data).hexdigest(), exif_time)


def _exif_time(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal (else DateTime), with OffsetTimeOriginal when given, else China time."""
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    raw = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not isinstance(raw, str):
        return None
    try:
        naive = datetime.strptime(raw.strip("\x00 "), _EXIF_TIME_FORMAT)  # noqa: DTZ007 — zone below
    except ValueError:
        return None  # cameras write "0000:00:00 00:00:00" and worse: no time, not an error
    offset = sub.get(ExifTags.Base.OffsetTimeOriginal)
    if isinstance(offset, str):
        try:
            return datetime.fromisoformat(naive.isoformat() + offset.strip("\x00 "))
        except ValueError:
            pass
    # [DEFAULT] a camera without an offset is taken to run on China time
    return naive.replace(tzinfo=CHINA)


def photo_key(credit_code: str, content_type: str, now: datetime) -> str:
    """A new, unique store key: ``{credit_code}/{yyyy}/{mm}/{uuid}.{jpg|png}``."""
    ext = "png" if content_type == "image/png" else "jpg"
    return f"{credit_code}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.{ext}"


def _checked_key(key: str) -> str:
    if not _KEY_RE.match(key) or ".." in key.split("/"):
        raise PhotoStoreError(f"invalid photo key {key!r}")
    return key


class PhotoStore(Protocol):
    """Where photo bytes live (the database keeps only their keys and metadata)."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store the bytes under ``key`` (replacing any)."""

    def get(self, key: str) -> bytes:
        """The bytes under ``key`` (``PhotoNotFoundError`` when there are none)."""

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""


class LocalPhotoStore:
    """Photos as files under one directory (the default: ``{data_dir}/photos``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write the file atomically (a reader never sees half a photo)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            Path(tmp).replace(path)
        except OSError as err:
            raise PhotoStoreError(f"cannot store photo {key}: {err}") from err

    def get(self, key: str) -> bytes:
        """The file's bytes."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as err:
            raise PhotoNotFoundError(f"no photo stored under {key}") from err
        except OSError as err:
            raise PhotoStoreError(f"cannot read photo {key}: {err}") from err

    def delete(self, key: str) -> None:
        """Remove the file if it is there."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as err:
            raise PhotoStoreError(f"cannot delete photo {key}: {err}") from err


class S3PhotoStore:
    """Photos in a bucket of an S3-compatible server, addressed path-style (MinIO, SeaweedFS)."""

    def __init__(
        self, endpoint: str, bucket: str, access_key: str, secret_key: str, region: str
    ) -> None:
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise PhotoStoreError(f"S3 endpoint must be http(s)://host[:port], not {endpoint!r}")
        self.bucket = bucket
        # short timeouts and a few retries: a check-in waits on this, a person is holding a phone
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=30),
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
        )
        # minio-py addresses every non-AWS endpoint path-style (http://host/bucket/key)
        self._client = Minio(
            url.netloc,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            secure=url.scheme == "https",
            http_client=http,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet."""
        try:
            if not self._client.bucket_exists(self.bucket):
                self._client.make_bucket(self.bucket)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as err:
            raise PhotoStoreError(f"S3 bucket {self.bucket}: {err}") from err

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Upload the object."""
        try:
            self._client.put_object(
                self.bucket, _checked_key(key), io.BytesIO(data), len(data), content_type
            )
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as err:
            raise PhotoStoreError(f"cannot store photo {key} in S3: {err}") from err

    def get(self, key: str) -> bytes:
        """Download the object."""
        try:
            response = self._client.get_object(self.bucket, _checked_key(key))
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchObject"):
                raise PhotoNotFoundError(f"no photo stored under {key}") from err
            raise PhotoStoreError(f"cannot read photo {key} from S3: {err}") from err
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as err:
            raise PhotoStoreError(f"cannot read photo {key} from S3: {err}") from err

    def delete(self, key: str) -> None:
        """Remove the object (S3 answers success for a missing one)."""
        try:
            self._client.remove_object(self.bucket, _checked_key(key))
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as err:
            raise PhotoStoreError(f"cannot delete photo {key} from S3: {err}") from err


def photo_store_from(settings: Settings) -> PhotoStore:
    """The store the settings choose (``photo_store``: local or s3); connects to nothing yet."""
    if settings.photo_store == "s3":
        return S3PhotoStore(
            settings.s3_endpoint,
            settings.s3_bucket,
            settings.s3_access_key.get_secret_value(),
            settings.s3_secret_key.get_secret_value(),
            settings.s3_region,
        )
    return LocalPhotoStore(settings.data_dir / "photos")


# ---------------------------------------------------------------- the photos table


@dataclass(frozen=True)
class StoredPhoto:
    """A row of ``photos``: where the bytes are and whose jurisdiction they fall in."""

    id: int
    key: str
    content_type: str
    size: int
    sha256: str
    credit_code: str
    adcode: str
    exif_time: datetime | None
    uploaded_by: str
    uploaded_at: datetime
    kind: str
    ref: str | None


_COLUMNS: Final = (
    "id, key, content_type, size, sha256, credit_code, adcode, exif_time, uploaded_by,"
    " uploaded_at, kind, ref"
)


async def record_photo(
    conn: AsyncConnection[Any],
    key: str,
    photo: CheckedPhoto,
    *,
    credit_code: str,
    adcode: str,
    uploaded_by: str,
    uploaded_at: datetime,
    kind: str,
    ref: str | None,
) -> StoredPhoto:
    """Record a stored photo (in the caller's transaction)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO photos (key, content_type, size, sha256, credit_code, adcode, exif_time,"
            " uploaded_by, uploaded_at, kind, ref)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" RETURNING {_COLUMNS}",
            (
                key,
                photo.content_type,
                photo.size,
                photo.sha256,
                credit_code,
                adcode,
                photo.exif_time,
                uploaded_by,
                uploaded_at,
                kind,
                ref,
            ),
        )
        row = await cur.fetchone()
    assert row is not None
    return StoredPhoto(**row)


async def get_photo(conn: AsyncConnection[Any], scope: Scope, photo_id: int) -> StoredPhoto:
    """A photo's row, if the caller's jurisdiction covers its enterprise (else not found)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM photos WHERE id = %s", (photo_id,))
        row = await cur.fetchone()
    if row is None or not scope.sees("enterprise", row["adcode"], row["credit_code"]):
        raise PhotoNotFoundError(f"no photo {photo_id} / 照片不存在")
    return StoredPhoto(**row)


async def photos_of(
    conn: AsyncConnection[Any], kinds: list[str], refs: list[str]
) -> list[StoredPhoto]:
    """The photos attached to these references (e.g. cleaning check-ins), oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM photos WHERE kind = ANY(%s) AND ref = ANY(%s) ORDER BY id",
            (kinds, refs),
        )
        return [StoredPhoto(**r) for r in await cur.fetchall()]
