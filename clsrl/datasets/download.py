"""HTTP(S) downloads that resume, retry and verify, and safe unpacking of zip and tar archives.

Download one file from the shell (resumes a `.part` file left by an interrupted run):

    python -m clsrl.datasets.download URL DEST [--checksum sha256:HEX]

Standard library only (urllib). A download goes to `DEST.part` first; an interrupted transfer is
resumed with an HTTP Range request (a server that ignores Range sends the whole file again, and the
part is restarted); transient failures (connection errors, timeouts, HTTP 408/429/5xx, a body cut
short) are retried with exponential backoff; the finished file is checked against its checksum
(`sha256:HEX` or `md5:HEX`) before it is renamed to DEST. Google Drive files (`gdrive:ID`) pass
Drive's "can't scan for viruses" confirmation page.

>>> parse_checksum("md5:3138E1922A9193BFA496528EDBBC45D0")
('md5', '3138e1922a9193bfa496528edbbc45d0')
>>> member_target("food-101/images/a.jpg", "food-101")
'images/a.jpg'
>>> member_target("food-101/README.txt", "food-101/images") is None
True
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import tarfile
import time
import urllib.parse
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

CHUNK_BYTES = 1 << 20
PART_SUFFIX = ".part"
MISMATCH_SUFFIX = ".mismatch"
DEFAULT_RETRIES = 5
DEFAULT_BACKOFF_S = 2.0  # waits 2, 4, 8, ... seconds between attempts
DEFAULT_TIMEOUT_S = 60.0  # per connect / read, not per file
PROGRESS_EVERY_S = 10.0  # one progress log line at most this often
MAX_CONFIRM_PAGES = 2  # Google Drive confirmation pages followed per attempt
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
RANGE_NOT_SATISFIABLE = 416
PARTIAL_CONTENT = 206
CHECKSUM_ALGORITHMS = ("sha256", "md5")
USER_AGENT = "clsrl-dataset-downloader (python urllib)"
GOOGLE_DRIVE_DOWNLOAD = "https://drive.usercontent.google.com/download"
GOOGLE_DRIVE_VIEW = "https://drive.google.com/file/d/{id}/view"
GOOGLE_DRIVE_SCHEME = "gdrive:"
ARCHIVE_KINDS = {".zip": "zip", ".tar": "tar", ".tar.gz": "tar", ".tgz": "tar", ".tar.bz2": "tar"}

Log = Callable[[str], None]


class DownloadError(RuntimeError):
    """A download failed for good; the message names the URL, the file and what to do."""


class ChecksumMismatchError(DownloadError):
    """A downloaded or cached file does not have its expected checksum."""


class ArchiveError(RuntimeError):
    """An archive cannot be unpacked (corrupt, unknown type, or an unsafe member path)."""


class _TransientError(Exception):
    """A failure worth another attempt (the next attempt resumes)."""


# ---------------------------------------------------------------------------------------------
# Checksums


def parse_checksum(checksum: str) -> tuple[str, str]:
    """Split `algorithm:hex` into its parts, lower case; raise ValueError if malformed."""
    algorithm, _, digest = checksum.partition(":")
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    if algorithm not in CHECKSUM_ALGORITHMS or not digest:
        raise ValueError(
            f"checksum {checksum!r} must be 'ALGORITHM:HEX' with ALGORITHM one of "
            f"{', '.join(CHECKSUM_ALGORITHMS)}"
        )
    int(digest, 16)  # ValueError if not hexadecimal
    return algorithm, digest


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in chunks."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, algorithm).hexdigest()


def verify_checksum(path: Path, checksum: str | None, *, origin: str) -> None:
    """Raise ChecksumMismatchError (file kept as `*.mismatch`) unless `path` has `checksum`.

    `origin` names where the file came from (a URL) in the message. No checksum: nothing to do.
    """
    if checksum is None:
        return
    algorithm, expected = parse_checksum(checksum)
    actual = file_digest(path, algorithm)
    if actual == expected:
        return
    kept = path.with_name(path.name.removesuffix(PART_SUFFIX) + MISMATCH_SUFFIX)
    os.replace(path, kept)
    raise ChecksumMismatchError(
        f"checksum mismatch for {path.name.removesuffix(PART_SUFFIX)} (from {origin}): expected "
        f"{algorithm} {expected}, got {actual}. The download is corrupt or the file changed at "
        f"its source; it was kept as {kept} for inspection. Delete it and rerun to download "
        "again; if the mismatch persists, check the source and update the checksum (in "
        "clsrl/datasets/benchmarks.yaml, or the recorded <file>.sha256 beside the download)."
    )


# ---------------------------------------------------------------------------------------------
# Downloading


@dataclass(frozen=True)
class Downloaded:
    """A finished download: where it is, its size and its sha256."""

    path: Path
    size: int
    sha256: str


def google_drive_url(file_id: str) -> str:
    """The direct-download URL of a public Google Drive file (skips the virus-scan page)."""
    query = urllib.parse.urlencode({"id": file_id, "export": "download", "confirm": "t"})
    return f"{GOOGLE_DRIVE_DOWNLOAD}?{query}"


def resolve_url(url: str) -> str:
    """`gdrive:ID` -> Drive's download URL; other URLs unchanged."""
    if url.startswith(GOOGLE_DRIVE_SCHEME):
        return google_drive_url(url.removeprefix(GOOGLE_DRIVE_SCHEME))
    return url


def download(
    url: str,
    dest: str | Path,
    *,
    checksum: str | None = None,
    retries: int = DEFAULT_RETRIES,
    backoff_s: float = DEFAULT_BACKOFF_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    log: Log = print,
) -> Downloaded:
    """Download `url` to `dest` (resuming `dest.part`), verify `checksum`, return the result.

    Raises DownloadError after `retries` failed retries (the part file stays, so a rerun
    resumes) or on a permanent HTTP error, ChecksumMismatchError on a wrong checksum.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + PART_SUFFIX)
    current = resolve_url(url)
    for attempt in range(retries + 1):
        try:
            current = _transfer(current, part, timeout_s=timeout_s, log=log, original=url)
            break
        except _TransientError as error:
            have = part.stat().st_size if part.exists() else 0
            if attempt == retries:
                raise DownloadError(
                    f"downloading {url} to {dest} failed {retries + 1} times (last: {error}); "
                    f"{have} bytes are kept in {part}: rerun to resume, or download the file "
                    f"yourself and place it at {dest}"
                ) from None
            wait_s = backoff_s * 2**attempt
            log(f"{dest.name}: {error}; retry {attempt + 1} of {retries} in {wait_s:.1f} s "
                f"(resuming at {have} bytes)")  # fmt: skip
            time.sleep(wait_s)
    verify_checksum(part, checksum, origin=url)
    os.replace(part, dest)
    return Downloaded(dest, dest.stat().st_size, file_digest(dest, "sha256"))


def _transfer(url: str, part: Path, *, timeout_s: float, log: Log, original: str) -> str:
    """One attempt (plus Drive confirmation pages); return the URL that served the file."""
    for _ in range(MAX_CONFIRM_PAGES + 1):
        offset = part.stat().st_size if part.exists() else 0
        response = _open(url, part, offset, timeout_s)
        with response:
            if _is_html(response) and original.startswith(GOOGLE_DRIVE_SCHEME):
                url = _drive_confirmation_url(response.read(), original, part)
                continue
            _write_body(response, part, offset, log)
            return url
    raise DownloadError(
        f"Google Drive kept answering {original} with a confirmation page; download the file in "
        f"a browser from {_drive_view_url(original)} and place it at {part.with_suffix('')}"
    )


def _open(url: str, part: Path, offset: int, timeout_s: float):
    """Open the URL, asking for the bytes from `offset` on; classify failures.

    A refused resume (HTTP 416, e.g. a part file as long as the file or longer) removes the part
    file, so the next attempt starts over.
    """
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urlopen(Request(url, headers=headers), timeout=timeout_s)
    except HTTPError as error:
        if error.code == RANGE_NOT_SATISFIABLE and offset:
            part.unlink()
            raise _TransientError("server refused to resume (HTTP 416); starting over") from None
        if error.code in RETRYABLE_STATUS:
            raise _TransientError(f"HTTP {error.code} {error.reason}") from None
        raise DownloadError(
            f"{url}: HTTP {error.code} {error.reason}; the file is not available there. Check "
            "the URL (clsrl/datasets/benchmarks.yaml), or download the file yourself and "
            "point data.local_copies at the dataset"
        ) from None
    except (URLError, TimeoutError, ConnectionError, http.client.HTTPException) as error:
        raise _TransientError(f"{type(error).__name__}: {error}") from None


def _is_html(response) -> bool:
    return response.headers.get_content_type() == "text/html"


def _write_body(response, part: Path, offset: int, log: Log) -> None:
    """Append (resumed, HTTP 206) or write (HTTP 200) the body to `part`, logging progress."""
    resumed = response.status == PARTIAL_CONTENT and _range_start(response) == offset
    start = offset if resumed else 0
    length = response.headers.get("Content-Length")
    total = start + int(length) if length is not None else None
    written, last_log = start, time.monotonic()
    if resumed:
        log(f"{part.name}: resuming at {offset} bytes")
    with open(part, "ab" if resumed else "wb") as stream:
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (TimeoutError, ConnectionError, http.client.HTTPException) as error:
                raise _TransientError(f"{type(error).__name__} after {written} bytes") from None
            if not chunk:
                break
            stream.write(chunk)
            written += len(chunk)
            if time.monotonic() - last_log >= PROGRESS_EVERY_S:
                log(f"{part.name.removesuffix(PART_SUFFIX)}: {_progress(written, total)}")
                last_log = time.monotonic()
    if total is not None and written < total:
        raise _TransientError(f"connection closed after {written} of {total} bytes")
    log(f"{part.name.removesuffix(PART_SUFFIX)}: done, {_progress(written, total)}")


def _range_start(response) -> int | None:
    """The first byte of a 206 response (Content-Range: bytes START-END/TOTAL)."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _progress(written: int, total: int | None) -> str:
    mib = written / 2**20
    if not total:
        return f"{mib:.1f} MiB"
    return f"{mib:.1f} of {total / 2**20:.1f} MiB ({100 * written / total:.0f}%)"


class _FormParser(HTMLParser):
    """The action and hidden fields of Drive's download form."""

    def __init__(self):
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == "download-form":
            self.action, self._in_form = attributes.get("action"), True
        elif tag == "input" and self._in_form and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def _drive_confirmation_url(page: bytes, original: str, part: Path) -> str:
    """The URL behind Drive's 'download anyway' form, or a DownloadError saying what to do."""
    parser = _FormParser()
    parser.feed(page.decode("utf-8", errors="replace"))
    if not parser.action:
        raise DownloadError(
            f"Google Drive answered {original} with a page, not the file (daily quota exceeded, "
            f"or the file is not public). Download it in a browser from {_drive_view_url(original)}"
            f" and place it at {part.with_name(part.name.removesuffix(PART_SUFFIX))}, then rerun"
        )
    return f"{parser.action}?{urllib.parse.urlencode(parser.fields)}"


def _drive_view_url(original: str) -> str:
    return GOOGLE_DRIVE_VIEW.format(id=original.removeprefix(GOOGLE_DRIVE_SCHEME))


# ---------------------------------------------------------------------------------------------
# Unpacking


def archive_kind(path: str | Path) -> str:
    """'zip' or 'tar' from the file name; ArchiveError for anything else."""
    name = Path(path).name.lower()
    for suffix, kind in sorted(ARCHIVE_KINDS.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return kind
    raise ArchiveError(
        f"{path}: not a known archive type (known: {', '.join(ARCHIVE_KINDS)}); set "
        "unpack: false for a plain file"
    )


def member_target(name: str, member_root: str | None) -> str | None:
    """A member's path below the target: `member_root/` removed; None for members outside it."""
    path = PurePosixPath(name)  # drops "." parts, e.g. a leading ./
    if member_root:
        root = PurePosixPath(member_root)
        if path == root or root not in path.parents:
            return None
        path = path.relative_to(root)
    if path.is_absolute() or ".." in path.parts:
        raise ArchiveError(f"unsafe member path {name!r} (absolute or with '..'); not unpacked")
    return str(path)


def unpack(
    archive: str | Path, target: str | Path, *, member_root: str | None = None, log: Log = print
) -> int:
    """Unpack a zip or tar(.gz) archive into `target`; return the number of files written.

    `member_root` keeps only that folder of the archive, moved up to `target`. A corrupt archive
    raises ArchiveError naming the file and the fix.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    log(f"unpacking {archive.name} into {target}")
    try:
        count = (_unpack_zip if archive_kind(archive) == "zip" else _unpack_tar)(
            archive, target, member_root
        )
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise ArchiveError(
            f"{archive}: cannot unpack ({type(error).__name__}: {error}); the file is corrupt or "
            "incomplete: delete it and rerun to download it again"
        ) from None
    if count == 0:
        where = f" under {member_root}/" if member_root else ""
        raise ArchiveError(f"{archive}: no files{where}; is it the right archive?")
    log(f"unpacked {count} files from {archive.name}")
    return count


def _unpack_tar(archive: Path, target: Path, member_root: str | None) -> int:
    with tarfile.open(archive, "r:*") as tar:
        members = []
        for member in tar:
            name = member_target(member.name, member_root)
            if name is None or name == ".":
                continue
            member.name = name
            members.append(member)
        tar.extractall(target, members=members, filter="data")
    return sum(1 for member in members if member.isfile())


def _unpack_zip(archive: Path, target: Path, member_root: str | None) -> int:
    count = 0
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            name = member_target(info.filename.rstrip("/"), member_root)
            if name is None or name == ".":
                continue
            path = target / name
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source, open(path, "wb") as stream:
                shutil.copyfileobj(source, stream, CHUNK_BYTES)
            count += 1
    return count


def main(argv: list[str] | None = None) -> None:
    """Command line: download one URL (resuming, retrying, verifying)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="https://... or gdrive:FILE_ID")
    parser.add_argument("dest", help="file to write")
    parser.add_argument("--checksum", help="sha256:HEX or md5:HEX")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES)
    args = parser.parse_args(argv)
    done = download(args.url, args.dest, checksum=args.checksum, retries=args.retries)
    print(f"{done.path}: {done.size} bytes, sha256 {done.sha256}")


if __name__ == "__main__":
    main()
