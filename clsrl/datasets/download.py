"""HTTP(S) downloads that resume, retry and verify, and safe unpacking of zip and tar archives.

Download one file from the shell (resumes a `.part` file left by an interrupted run):

    python -m clsrl.datasets.download URL DEST [--checksum sha256:HEX]

Standard library only (urllib). A download goes to `DEST.part` first; transient failures
(connection errors, timeouts, HTTP 408/429/5xx, a body cut short) are retried with exponential
backoff; the finished file is checked against its checksum (`sha256:HEX` or `md5:HEX`) before it
is renamed to DEST. Google Drive files (`gdrive:ID`) pass Drive's "can't scan for viruses" page.

A file is never accepted truncated or mixed from two versions:
- A resume sends `Range` with `If-Range` set to the first response's ETag (else Last-Modified),
  kept in `DEST.part.validator`. A 200 answer (file changed, or Range ignored) restarts the part;
  a 206 with another ETag, or a part whose first response had no validator, starts over.
- A body is complete when it reaches its Content-Length or chunked encoding's last chunk. A body
  that just ends (connection closed, no length) must be proven: `Range: bytes=SIZE-` answered
  416 proves it, 206 appends what was missing (then prove again). If the server cannot answer a
  range (it ignores Range, or sent no validator), a known checksum decides; without one the file
  is downloaded a second time and accepted only if both copies have the same sha256.

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
VALIDATOR_SUFFIX = ".validator"  # DEST.part.validator: the ETag or Last-Modified of DEST.part
COPY_SUFFIX = ".copy"  # DEST.part.copy: a second download, compared with DEST.part
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

    The result is complete by the module's rules. Raises DownloadError after `retries` failed
    retries (the part file stays, so a rerun resumes), on a permanent HTTP error or when the
    server's file is not stable; ChecksumMismatchError on a wrong checksum.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + PART_SUFFIX)
    current, checked = resolve_url(url), checksum is not None
    for attempt in range(retries + 1):
        try:
            current = _transfer(
                current, part, checked=checked, timeout_s=timeout_s, log=log, original=url
            )
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
    _validator_path(part).unlink(missing_ok=True)  # complete: nothing left to resume
    verify_checksum(part, checksum, origin=url)
    os.replace(part, dest)
    return Downloaded(dest, dest.stat().st_size, file_digest(dest, "sha256"))


def _transfer(
    url: str, part: Path, *, checked: bool, timeout_s: float, log: Log, original: str
) -> str:
    """One attempt: request until `part` is complete; return the URL that served the file.

    `checked`: a checksum will be verified, so it may decide when a range cannot.
    """
    proving = False  # `part` holds a whole body that ended without a length: is it all?
    while True:
        validator = _load_validator(part)
        offset = part.stat().st_size if part.exists() else 0
        if offset and validator is None and not proving:
            log(f"{part.name}: the server sent no ETag or Last-Modified for it, so a resume "
                "could mix two versions of the file; starting over")  # fmt: skip
            _discard(part)
            offset = 0
        if proving and not (offset and validator):  # no range to prove completeness with
            if checked:
                return url  # the checksum decides
            offset = 0  # fetch the whole file again, to compare
        url, response = _open_file(url, part, offset, validator, timeout_s, original)
        if response is None:  # HTTP 416: nothing after `offset`, the part is the whole file
            return url
        with response:
            resumed = offset > 0 and _continues(response, part, offset, validator)
            if proving and not resumed:  # the whole file again (Range ignored, or file changed)
                if not checked:
                    _compare_copies(response, part, original, log)
                return url
            if not resumed:
                _discard(part)
                _save_validator(part, response)
            proving = not _write_body(response, part, offset if resumed else 0, log)
        if not proving:
            return url


def _open_file(url, part, offset, validator, timeout_s, original):
    """(URL, response) for the file, past Drive's confirmation pages; response None for 416."""
    for _ in range(MAX_CONFIRM_PAGES + 1):
        response = _open(url, part, offset, validator, timeout_s)
        if response is None or not _is_drive_page(response, original):
            return url, response
        with response:
            url = _drive_confirmation_url(response.read(), original, part)
    raise DownloadError(
        f"Google Drive kept answering {original} with a confirmation page; download the file in "
        f"a browser from {_drive_view_url(original)} and place it at {part.with_suffix('')}"
    )


def _open(url: str, part: Path, offset: int, validator: tuple[str, str] | None, timeout_s: float):
    """Open the URL, asking for the bytes from `offset` on if the validator still holds.

    Returns None for HTTP 416 when the server's length is `offset` (or not given): the part file
    is the whole file. A 416 for another length (a part file longer than the file) removes the
    part file, so the next attempt starts over. Failures are classified.
    """
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        headers["If-Range"] = validator[1]
    try:
        return urlopen(Request(url, headers=headers), timeout=timeout_s)
    except HTTPError as error:
        if error.code == RANGE_NOT_SATISFIABLE and offset:
            if _complete_length(error.headers.get("Content-Range", "")) in (None, offset):
                return None
            _discard(part)
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


def _is_drive_page(response, original: str) -> bool:
    """Whether Drive answered with a page (a confirmation form), not the file."""
    html = response.headers.get_content_type() == "text/html"
    return html and original.startswith(GOOGLE_DRIVE_SCHEME)


def _continues(response, part: Path, offset: int, validator: tuple[str, str]) -> bool:
    """True for a 206 that continues `part`, False for a 200 (the whole file).

    A 206 from another byte, or with another validator than `part`'s first response, removes the
    part file and raises _TransientError (the next attempt starts over).
    """
    if response.status != PARTIAL_CONTENT:
        return False
    name, value = validator
    if _range_start(response) == offset and response.headers.get(name, value) == value:
        return True
    _discard(part)
    raise _TransientError(f"the server's answer to a resume does not continue {part.name} "
                          "(another start, or the file changed); starting over")  # fmt: skip


def _compare_copies(response, part: Path, url: str, log: Log) -> None:
    """Write the whole file again beside `part`; DownloadError unless both have one sha256."""
    copy = part.with_name(part.name + COPY_SUFFIX)
    log(f"{part.name}: the server cannot prove by Range that the file is complete; "
        "downloading it a second time to compare")  # fmt: skip
    try:
        _write_body(response, copy, 0, log)
        same = file_digest(copy) == file_digest(part)
    finally:
        copy.unlink(missing_ok=True)
    if not same:
        _discard(part)
        dest = part.with_name(part.name.removesuffix(PART_SUFFIX))
        raise DownloadError(
            f"the server's file is not stable: two downloads of {url} differ (the file changed, "
            "or a transfer was cut short: the server sends no length and cannot resume, so this "
            f"cannot be told apart). Nothing was kept; rerun to try again, or download the file "
            f"yourself, check it and place it at {dest}, or publish its checksum"
        )


def _write_body(response, path: Path, start: int, log: Log) -> bool:
    """Write the body to `path` (appended at `start` > 0, else from byte 0), logging progress.

    Return whether its end was delimited (Content-Length reached, or chunked encoding's last
    chunk); False when it ended only because the connection closed. A body shorter than its
    Content-Length (or a chunked body broken off) raises _TransientError.
    """
    length = response.headers.get("Content-Length")
    total = start + int(length) if length is not None else None
    written, last_log = start, time.monotonic()
    label = path.name.removesuffix(PART_SUFFIX)
    if start:
        log(f"{path.name}: resuming at {start} bytes")
    with open(path, "ab" if start else "wb") as stream:
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
                log(f"{label}: {_progress(written, total)}")
                last_log = time.monotonic()
    if total is not None and written < total:
        raise _TransientError(f"connection closed after {written} of {total} bytes")
    if total is None and "chunked" not in response.headers.get("Transfer-Encoding", "").lower():
        if start and written == start:
            raise _TransientError(f"an empty partial response at {start} bytes")
        log(f"{label}: {_progress(written, total)} received without a length; checking that "
            "nothing is missing")  # fmt: skip
        return False
    log(f"{label}: done, {_progress(written, total)}")
    return True


def _range_start(response) -> int | None:
    """The first byte of a 206 response (Content-Range: bytes START-END/TOTAL)."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _complete_length(content_range: str) -> int | None:
    """TOTAL of `Content-Range: bytes */TOTAL` (sent with HTTP 416), or None."""
    total = content_range.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


def _validator_path(part: Path) -> Path:
    return part.with_name(part.name + VALIDATOR_SUFFIX)


def _save_validator(part: Path, response) -> None:
    """Keep the response's strong ETag, else its Last-Modified, beside `part` (for If-Range)."""
    etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    if etag and not etag.startswith("W/"):  # a weak ETag cannot be used in If-Range
        _validator_path(part).write_text(f"ETag: {etag}\n", encoding="utf-8")
    elif modified:
        _validator_path(part).write_text(f"Last-Modified: {modified}\n", encoding="utf-8")


def _load_validator(part: Path) -> tuple[str, str] | None:
    """(header name, value) of the first response for `part`, or None."""
    path = _validator_path(part)
    if not path.is_file():
        return None
    name, _, value = path.read_text(encoding="utf-8").strip().partition(": ")
    return (name, value) if name in ("ETag", "Last-Modified") and value else None


def _discard(part: Path) -> None:
    """Remove the part file and its validator: the next request starts over."""
    part.unlink(missing_ok=True)
    _validator_path(part).unlink(missing_ok=True)


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
