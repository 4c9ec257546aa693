"""The real download code against a loopback HTTP server: checksums, retry, resume, unpack."""

import contextlib
import hashlib
import threading
import zlib
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clsrl.datasets import download as download_module
from clsrl.datasets.benchmarks import Source
from clsrl.datasets.download import (
    ArchiveError,
    ChecksumMismatchError,
    DownloadError,
    download,
    unpack,
)
from clsrl.datasets.sources import fetch_source, recorded_sha256
from tests.benchmark_archives import tar_gz, zip_of

PAYLOAD = bytes(range(256)) * 400  # 100 KiB
SERVER_TIMEOUT_S = 5
POLL_S = 0.02  # shutdown() waits up to one poll interval


class Loopback:
    """A tiny HTTP server on 127.0.0.1: files by path, with failure modes per path.

    Files are sent with a strong ETag and honour Range with If-Range, as a compliant server does.
    `modes[path]` holds space-separated flags: fail-first, fail-always (HTTP 503), cut-first (the
    first body stops at a third, then the connection closes), no-range (Range ignored),
    ignore-if-range (Range honoured whatever the If-Range), no-length (no Content-Length: the
    body ends when the connection closes), chunked (chunked transfer encoding), last-modified
    (Last-Modified instead of an ETag), no-validator (neither). `changes[path]` replaces the file
    once its first request is answered.
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}
        self.changes: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.if_ranges: list[str | None] = []  # If-Range header of each request
        loopback = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                loopback.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = SERVER_TIMEOUT_S
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def handle(self, request):
        path = request.path.split("?")[0]
        self.requests.append((request.path, request.headers.get("Range")))
        self.if_ranges.append(request.headers.get("If-Range"))
        count = sum(1 for p, _ in self.requests if p.split("?")[0] == path)
        modes = set(self.modes.get(path, "").split())
        if path not in self.files:
            request.send_error(404)
            return
        if "fail-always" in modes or ("fail-first" in modes and count == 1):
            request.send_error(503)
            return
        body = self.files[path]
        if count == 1 and path in self.changes:
            self.files[path] = self.changes.pop(path)  # for the next request
        name = "Last-Modified" if "last-modified" in modes else "ETag"
        validators = {} if "no-validator" in modes else {name: validator(body, name)}
        if_range = request.headers.get("If-Range")
        current = if_range is None or if_range in validators.values()
        start = 0
        header = request.headers.get("Range")
        if header and "no-range" not in modes and (current or "ignore-if-range" in modes):
            start = int(header.removeprefix("bytes=").split("-")[0])
        if start >= len(body) > 0:
            request.send_response(416)
            request.send_header("Content-Range", f"bytes */{len(body)}")
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        request.send_response(206 if start else 200)
        if start:
            request.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        for key, value in validators.items():
            request.send_header(key, value)
        if "chunked" in modes:
            request.send_header("Transfer-Encoding", "chunked")
        elif "no-length" not in modes:
            request.send_header("Content-Length", str(len(body) - start))
        request.send_header("Content-Type", self.types.get(path, "application/octet-stream"))
        request.end_headers()
        cut = "cut-first" in modes and count == 1  # then close: a cut transfer
        data = body[start : len(body) // 3] if cut else body[start:]
        if "chunked" in modes:
            data = b"%x\r\n%s\r\n" % (len(data), data) + (b"" if cut else b"0\r\n\r\n")
        request.wfile.write(data)
        request.close_connection = True

    types: dict[str, str] = {}

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(SERVER_TIMEOUT_S)


@pytest.fixture
def server():
    loopback = Loopback()
    loopback.types = {}
    yield loopback
    loopback.close()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def validator(data: bytes, name: str = "ETag") -> str:
    """The loopback server's ETag or Last-Modified for a file's bytes."""
    if name == "ETag":
        return f'"{hashlib.sha256(data).hexdigest()[:16]}"'
    return formatdate(1_600_000_000 + zlib.crc32(data) % 10**8, usegmt=True)


def leftovers(folder) -> list[str]:
    """Part files, validators and copies left in a folder."""
    return sorted(path.name for path in folder.glob("*.part*"))


def fetch(server, path, dest, **kwargs):
    return download(server.url(path), dest, backoff_s=0, log=lambda line: None, **kwargs)


def test_download_verifies_sha256_and_md5(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    done = fetch(server, "/a.bin", tmp_path / "a.bin", checksum=sha256(PAYLOAD))
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD
    assert done.sha256 == hashlib.sha256(PAYLOAD).hexdigest() and done.size == len(PAYLOAD)
    md5 = "md5:" + hashlib.md5(PAYLOAD).hexdigest().upper()  # case does not matter
    fetch(server, "/a.bin", tmp_path / "b.bin", checksum=md5)
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.faults
def test_checksum_mismatch_names_file_digests_and_fix(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    wrong = "sha256:" + "0" * 64
    with pytest.raises(ChecksumMismatchError) as error:
        fetch(server, "/a.bin", tmp_path / "a.bin", checksum=wrong)
    message = str(error.value)
    assert "a.bin" in message and "0" * 64 in message
    assert hashlib.sha256(PAYLOAD).hexdigest() in message
    assert "Delete it and rerun" in message
    assert not (tmp_path / "a.bin").exists() and (tmp_path / "a.bin.mismatch").exists()


def test_a_failed_first_request_is_retried(server, tmp_path):
    server.files["/flaky.bin"] = PAYLOAD
    server.modes["/flaky.bin"] = "fail-first"  # HTTP 503 once
    fetch(server, "/flaky.bin", tmp_path / "f.bin", checksum=sha256(PAYLOAD))
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert len(server.requests) == 2


@pytest.mark.faults
def test_a_cut_transfer_resumes_with_a_range_request(server, tmp_path):
    server.files["/big.bin"] = PAYLOAD
    server.modes["/big.bin"] = "cut-first"
    lines = []
    download(server.url("/big.bin"), tmp_path / "big.bin", backoff_s=0, log=lines.append,
             checksum=sha256(PAYLOAD))  # fmt: skip
    assert (tmp_path / "big.bin").read_bytes() == PAYLOAD
    (_, first_range), (_, second_range) = server.requests
    assert first_range is None and second_range == f"bytes={len(PAYLOAD) // 3}-"
    assert any("resuming at" in line for line in lines)


def test_a_server_ignoring_range_restarts_the_file(server, tmp_path):
    server.files["/norange.bin"] = PAYLOAD
    server.modes["/norange.bin"] = "no-range cut-first"  # then answers Range with the whole file
    fetch(server, "/norange.bin", tmp_path / "n.bin", checksum=sha256(PAYLOAD))
    assert (tmp_path / "n.bin").read_bytes() == PAYLOAD


def test_a_refused_resume_starts_over(server, tmp_path):
    server.files["/r.bin"] = PAYLOAD
    (tmp_path / "r.bin.part").write_bytes(b"x" * (len(PAYLOAD) + 5))  # longer than the file
    (tmp_path / "r.bin.part.validator").write_text(f"ETag: {validator(PAYLOAD)}\n")
    fetch(server, "/r.bin", tmp_path / "r.bin", checksum=sha256(PAYLOAD))
    assert (tmp_path / "r.bin").read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == [f"bytes={len(PAYLOAD) + 5}-", None]
    assert leftovers(tmp_path) == []


NEW = PAYLOAD[::-1] + b"the new version"  # the file after it changed at its source
THIRD = len(PAYLOAD) // 3  # where cut-first stops the first body


@pytest.mark.faults
@pytest.mark.parametrize("cut", [True, False])
def test_a_body_without_length_is_proven_complete_by_a_range_request(server, tmp_path, cut):
    server.files["/cl.bin"] = PAYLOAD
    server.modes["/cl.bin"] = "no-length cut-first" if cut else "no-length"
    fetch(server, "/cl.bin", tmp_path / "cl.bin")  # no checksum to fall back on
    assert (tmp_path / "cl.bin").read_bytes() == PAYLOAD
    ranges = [None, f"bytes={THIRD}-", f"bytes={len(PAYLOAD)}-"] if cut else [None, "bytes=102400-"]
    assert [r for _, r in server.requests] == ranges  # the last one answered 416
    assert server.if_ranges == [None] + [validator(PAYLOAD)] * (len(ranges) - 1)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("modes", "second_range"), [("no-range", f"bytes={len(PAYLOAD)}-"), ("no-validator", None)]
)
def test_a_body_without_length_or_range_support_is_downloaded_twice(
    server, tmp_path, modes, second_range
):
    server.files["/twice.bin"] = PAYLOAD
    server.modes["/twice.bin"] = f"no-length {modes}"
    lines = []
    download(server.url("/twice.bin"), tmp_path / "t.bin", backoff_s=0, log=lines.append)
    assert (tmp_path / "t.bin").read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == [None, second_range]
    assert any("a second time" in line for line in lines)
    assert leftovers(tmp_path) == []


@pytest.mark.faults
@pytest.mark.parametrize("modes", ["no-range", "no-validator"])
def test_two_different_copies_of_a_body_without_length_are_refused(server, tmp_path, modes):
    server.files["/unstable.bin"] = PAYLOAD
    server.changes["/unstable.bin"] = NEW
    server.modes["/unstable.bin"] = f"no-length {modes}"
    with pytest.raises(DownloadError, match="not stable") as error:
        fetch(server, "/unstable.bin", tmp_path / "u.bin")
    assert server.url("/unstable.bin") in str(error.value) and len(server.requests) == 2
    assert not (tmp_path / "u.bin").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("cut", [True, False])
def test_with_a_checksum_a_server_ignoring_range_is_not_downloaded_twice(server, tmp_path, cut):
    server.files["/sum.bin"] = PAYLOAD
    server.modes["/sum.bin"] = "no-length no-range" + (" cut-first" if cut else "")
    lines = []
    with pytest.raises(ChecksumMismatchError) if cut else contextlib.nullcontext():
        download(server.url("/sum.bin"), tmp_path / "s.bin", backoff_s=0, log=lines.append,
                 checksum=sha256(PAYLOAD))  # fmt: skip
    if not cut:  # else the checksum decided: the first third of the file is refused, not trusted
        assert (tmp_path / "s.bin").read_bytes() == PAYLOAD
    assert len(server.requests) == 2 and not any("a second time" in line for line in lines)


@pytest.mark.parametrize("name", ["ETag", "Last-Modified"])
def test_a_resume_sends_if_range_with_the_first_validator(server, tmp_path, name):
    server.files["/v.bin"] = PAYLOAD
    server.modes["/v.bin"] = "cut-first" + (" last-modified" if name == "Last-Modified" else "")
    fetch(server, "/v.bin", tmp_path / "v.bin")
    assert (tmp_path / "v.bin").read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == [None, f"bytes={THIRD}-"]
    assert server.if_ranges == [None, validator(PAYLOAD, name)]
    assert leftovers(tmp_path) == []


@pytest.mark.faults
@pytest.mark.parametrize(
    ("modes", "ranges"),
    [
        ("cut-first", [None, f"bytes={THIRD}-"]),  # If-Range fails: 200 with the new file
        ("cut-first ignore-if-range", [None, f"bytes={THIRD}-", None]),  # 206, another ETag
    ],
)
def test_a_resume_after_the_file_changed_yields_only_the_new_file(server, tmp_path, modes, ranges):
    server.files["/changed.bin"] = PAYLOAD
    server.changes["/changed.bin"] = NEW
    server.modes["/changed.bin"] = modes
    fetch(server, "/changed.bin", tmp_path / "c.bin")
    assert (tmp_path / "c.bin").read_bytes() == NEW
    assert [r for _, r in server.requests] == ranges
    assert server.if_ranges[1] == validator(PAYLOAD)
    assert leftovers(tmp_path) == []


def test_a_part_without_validator_is_restarted_not_resumed(server, tmp_path):
    server.files["/nv.bin"] = PAYLOAD
    server.modes["/nv.bin"] = "no-validator cut-first"
    lines = []
    download(server.url("/nv.bin"), tmp_path / "nv.bin", backoff_s=0, log=lines.append)
    assert (tmp_path / "nv.bin").read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == [None, None]
    assert any("no ETag or Last-Modified" in line and "starting over" in line for line in lines)


def test_a_chunked_body_broken_off_is_retried_and_resumed(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "CHUNK_BYTES", 1000)  # some of it reaches the part file
    server.files["/ch.bin"] = PAYLOAD
    server.modes["/ch.bin"] = "chunked cut-first"
    lines = []
    download(server.url("/ch.bin"), tmp_path / "ch.bin", backoff_s=0, log=lines.append)
    assert (tmp_path / "ch.bin").read_bytes() == PAYLOAD
    (_, first), (_, second) = server.requests  # a complete chunked body needs no proof
    assert first is None and 0 < int(second.removeprefix("bytes=").rstrip("-")) <= THIRD
    assert any("IncompleteRead" in line for line in lines)


def test_retries_are_bounded_and_the_part_file_kept(server, tmp_path):
    server.files["/down.bin"] = PAYLOAD
    server.modes["/down.bin"] = "fail-always"
    with pytest.raises(DownloadError, match="failed 3 times"):
        fetch(server, "/down.bin", tmp_path / "d.bin", retries=2)
    assert len(server.requests) == 3


def test_a_missing_file_fails_at_once_naming_the_url(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404") as error:
        fetch(server, "/nope.bin", tmp_path / "x.bin", retries=3)
    assert "/nope.bin" in str(error.value) and len(server.requests) == 1


def test_google_drive_confirmation_page_is_followed(server, tmp_path, monkeypatch):
    server.files["/download"] = b"<html>placeholder</html>"
    server.types["/download"] = "text/html"
    server.files["/confirmed"] = PAYLOAD
    action = server.url("/confirmed")
    server.files["/download"] = (
        f'<html><form id="download-form" action="{action}" method="get">'
        '<input type="hidden" name="id" value="ABC"><input type="hidden" name="confirm" '
        'value="t"><input type="hidden" name="uuid" value="u-1"></form></html>'
    ).encode()
    monkeypatch.setattr(download_module, "GOOGLE_DRIVE_DOWNLOAD", server.url("/download"))
    download("gdrive:ABC", tmp_path / "split.json", backoff_s=0, log=lambda line: None)
    assert (tmp_path / "split.json").read_bytes() == PAYLOAD
    assert server.requests[1][0] == "/confirmed?id=ABC&confirm=t&uuid=u-1"


def test_google_drive_page_without_form_says_what_to_do(server, tmp_path, monkeypatch):
    server.files["/download"] = b"<html>Quota exceeded</html>"
    server.types["/download"] = "text/html"
    monkeypatch.setattr(download_module, "GOOGLE_DRIVE_DOWNLOAD", server.url("/download"))
    with pytest.raises(DownloadError, match="drive.google.com/file/d/XYZ/view"):
        download("gdrive:XYZ", tmp_path / "s.json", backoff_s=0, log=lambda line: None)


@pytest.mark.parametrize(
    ("name", "pack"),
    [("a.tar.gz", tar_gz), ("a.tgz", tar_gz), ("a.zip", zip_of)],
)
def test_unpack_keeps_only_the_member_root(tmp_path, name, pack):
    archive = tmp_path / name
    archive.write_bytes(pack({"top/data/x/1.jpg": b"1", "top/data/2.txt": b"2", "top/R.md": b"r"}))
    count = unpack(archive, tmp_path / "out", member_root="top/data", log=lambda line: None)
    assert count == 2
    assert (tmp_path / "out/x/1.jpg").read_bytes() == b"1"
    assert (tmp_path / "out/2.txt").exists() and not (tmp_path / "out/R.md").exists()


def test_unpack_refuses_unsafe_paths_and_corrupt_archives(tmp_path):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zip_of({"../escape.txt": b"x"}))
    with pytest.raises(ArchiveError, match="unsafe member path"):
        unpack(archive, tmp_path / "out", log=lambda line: None)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(tar_gz({"a.txt": b"a" * 1000})[:40])
    with pytest.raises(ArchiveError, match="broken.tar.gz.*delete it and rerun"):
        unpack(broken, tmp_path / "out2", log=lambda line: None)


def test_fetch_source_unpacks_a_nested_archive_and_records_the_sha256(server, tmp_path):
    inner = tar_gz({"101_ObjectCategories/cat/1.jpg": b"jpg"})
    outer = zip_of({"caltech-101/101_ObjectCategories.tar.gz": inner, "caltech-101/other": b"o"})
    server.files["/caltech-101.zip"] = outer
    source = Source(
        id="Caltech101-images",
        dataset="Caltech101",
        url=server.url("/caltech-101.zip"),
        filename="caltech-101.zip",
        unpack=True,
        nested="caltech-101/101_ObjectCategories.tar.gz",
    )
    record = fetch_source(source, tmp_path, backoff_s=0, log=lambda line: None)
    assert (tmp_path / "coop/caltech-101/101_ObjectCategories/cat/1.jpg").read_bytes() == b"jpg"
    assert record["sha256"] == hashlib.sha256(outer).hexdigest()
    assert "recorded on first download" in record["checked_against"]
    assert recorded_sha256(tmp_path / "downloads/caltech-101.zip") == sha256(outer)
    assert not (tmp_path / "downloads/caltech-101.zip").exists()  # archives are not kept
    # The file changes at its source: the next download is checked against the recorded sha256.
    server.files["/caltech-101.zip"] = zip_of({"caltech-101/101_ObjectCategories.tar.gz": b"x"})
    with pytest.raises(ChecksumMismatchError, match=hashlib.sha256(outer).hexdigest()):
        fetch_source(source, tmp_path, backoff_s=0, log=lambda line: None)


def test_fetch_source_places_a_single_file_under_its_name(server, tmp_path):
    server.files["/cn"] = b"n01440764 tench\n"
    source = Source(
        id="ImageNet-classnames",
        dataset="ImageNet",
        url=server.url("/cn"),
        filename="imagenet_classnames.txt",
        place_as="classnames.txt",
        checksum=sha256(b"n01440764 tench\n"),
    )
    fetch_source(source, tmp_path, log=lambda line: None)
    assert (tmp_path / "coop/imagenet/classnames.txt").read_bytes() == b"n01440764 tench\n"
    fetch_source(source, tmp_path, log=lambda line: None)  # reuses the verified download
    assert len(server.requests) == 1


def test_fetch_source_records_the_sha256_of_the_whole_file_not_a_cut_one(server, tmp_path):
    server.files["/labels.txt"] = PAYLOAD
    server.modes["/labels.txt"] = "no-length cut-first"  # a third, then a clean close
    source = Source(
        id="OxfordPets-labels",
        dataset="OxfordPets",
        url=server.url("/labels.txt"),
        filename="labels.txt",
    )
    record = fetch_source(source, tmp_path, backoff_s=0, log=lambda line: None)
    assert record["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert recorded_sha256(tmp_path / "downloads/labels.txt") == sha256(PAYLOAD)


@pytest.mark.faults
def test_fetch_source_records_no_sha256_for_an_unproven_download(server, tmp_path):
    server.files["/labels.txt"] = PAYLOAD
    server.changes["/labels.txt"] = NEW
    server.modes["/labels.txt"] = "no-length no-range"
    source = Source(
        id="OxfordPets-labels",
        dataset="OxfordPets",
        url=server.url("/labels.txt"),
        filename="labels.txt",
    )
    with pytest.raises(DownloadError, match="not stable"):
        fetch_source(source, tmp_path, backoff_s=0, log=lambda line: None)
    assert recorded_sha256(tmp_path / "downloads/labels.txt") is None
    assert list((tmp_path / "downloads").iterdir()) == [] and not (tmp_path / "coop").exists()


def test_fetch_source_records_no_sha256_for_an_archive_that_does_not_unpack(server, tmp_path):
    server.files["/pets.tar.gz"] = tar_gz({"images/a.jpg": b"a" * 1000})[:40]
    source = Source(
        id="OxfordPets-images",
        dataset="OxfordPets",
        url=server.url("/pets.tar.gz"),
        filename="pets.tar.gz",
        unpack=True,
    )
    with pytest.raises(ArchiveError):
        fetch_source(source, tmp_path, backoff_s=0, log=lambda line: None)
    assert recorded_sha256(tmp_path / "downloads/pets.tar.gz") is None


def test_long_downloads_log_progress_lines(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "PROGRESS_EVERY_S", 0)  # a line per chunk
    monkeypatch.setattr(download_module, "CHUNK_BYTES", len(PAYLOAD) // 4)
    server.files["/p.bin"] = PAYLOAD
    lines = []
    download(server.url("/p.bin"), tmp_path / "p.bin", log=lines.append)
    assert "p.bin: 0.0 of 0.1 MiB (25%)" in lines and lines[-1].startswith("p.bin: done")
