"""Fetch one registry source (clsrl/datasets/benchmarks.yaml) into the cache, in CoOp's layout.

    python -m clsrl.datasets.sources OxfordPets-split --cache-dir data/cache

The cache holds `downloads/` (archives and files as downloaded, with a `<file>.sha256` record in
`sha256sum` format), `coop/<coop_folder>/` (each dataset's folder in CoOp's layout, which the
converters read) and `sources/<source id>.json` (what was fetched, written by the workflow last).

A source without a published checksum is trusted on first download: its sha256 is recorded, and
every later download of the file must match it (a mismatch is an error naming both digests). Only
a file that `download` proved complete (see clsrl.datasets.download) and that was then placed
(unpacked) without error is recorded.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from clsrl.datasets.benchmarks import BENCHMARKS, SOURCES, Source
from clsrl.datasets.download import (
    DEFAULT_BACKOFF_S,
    DEFAULT_RETRIES,
    Log,
    download,
    file_digest,
    unpack,
    verify_checksum,
)

DOWNLOADS = "downloads"
COOP = "coop"
SOURCE_RECORDS = "sources"  # <cache>/sources/<source id>.json, written by the workflow
RECORD_SUFFIX = ".sha256"
STAGING = ".staging"


def coop_dir(cache_dir: str | Path, dataset: str) -> Path:
    """Where the dataset's CoOp-layout folder lives in the cache."""
    return Path(cache_dir) / COOP / BENCHMARKS[dataset].coop_folder


def benchmark_coop_dir(data_config: dict, dataset: str) -> str:
    """The dataset's CoOp-layout folder: `data.local_copies[dataset]`, else the cache's."""
    local = data_config["local_copies"].get(dataset)
    return local or str(coop_dir(data_config["cache_dir"], dataset))


def benchmark_download_records(data_config: dict, dataset: str) -> list[str]:
    """The download records a benchmark's preparation waits for (none for a local copy)."""
    if dataset in data_config["local_copies"]:
        return []
    cache_dir = data_config["cache_dir"]
    return [source_record(cache_dir, source.id) for source in BENCHMARKS[dataset].sources]


def source_record(cache_dir: str | Path, source_id: str) -> str:
    """The record a finished download leaves (the workflow's output of that download)."""
    return str(Path(cache_dir) / SOURCE_RECORDS / f"{source_id}.json")


def recorded_sha256(path: Path) -> str | None:
    """The sha256 recorded beside a download on its first fetch, if any."""
    record = path.with_name(path.name + RECORD_SUFFIX)
    if not record.is_file():
        return None
    return "sha256:" + record.read_text(encoding="utf-8").split()[0]


def _record_sha256(path: Path, sha256: str) -> None:
    record = path.with_name(path.name + RECORD_SUFFIX)
    record.write_text(f"{sha256}  {path.name}\n", encoding="utf-8")


def fetch_source(
    source: Source,
    cache_dir: str | Path,
    *,
    keep_archive: bool = False,
    retries: int = DEFAULT_RETRIES,
    backoff_s: float = DEFAULT_BACKOFF_S,
    log: Log = print,
) -> dict:
    """Download (or reuse), verify and place one source; return the record to keep."""
    cache_dir = Path(cache_dir)
    file = cache_dir / DOWNLOADS / source.filename
    expected = source.checksum or recorded_sha256(file)
    if file.exists():
        log(f"{file} already downloaded; verifying it")
        verify_checksum(file, expected, origin=str(file))
        sha256 = file_digest(file)
    else:
        log(f"downloading {source.url} to {file}")
        sha256 = download(
            source.url, file, checksum=expected, retries=retries, backoff_s=backoff_s, log=log
        ).sha256
    target = coop_dir(cache_dir, source.dataset)
    files = place_source(source, file, target, log)  # an archive that does not unpack: no record
    if recorded_sha256(file) is None:
        _record_sha256(file, sha256)
        if source.checksum is None:
            log(f"{source.filename}: no published checksum; recorded sha256 {sha256} for later")
    if source.unpack and not keep_archive:
        file.unlink()
    return {
        "source": source.id,
        "url": source.url,
        "file": source.filename,
        "sha256": sha256,
        "checked_against": expected or "nothing published: sha256 recorded on first download",
        "checksum_origin": source.checksum_origin,
        "placed_in": str(target),
        "files": files,
    }


def place_source(source: Source, file: Path, target: Path, log: Log) -> int:
    """Unpack an archive (or its nested archive) into the CoOp folder, or copy a single file."""
    if not source.unpack:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target / source.target_name)
        return 1
    if source.nested is None:
        return unpack(file, target, member_root=source.member_root, log=log)
    staging = target.parent / f"{STAGING}-{source.id}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        unpack(file, staging, log=log)
        inner = staging / source.nested
        if not inner.is_file():
            raise FileNotFoundError(
                f"{file} has no {source.nested}; the archive's layout changed: update "
                f"'nested' of {source.id} in clsrl/datasets/benchmarks.yaml"
            )
        return unpack(inner, target, member_root=source.member_root, log=log)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Command line: fetch one source into the cache."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", choices=list(SOURCES), metavar="SOURCE")
    parser.add_argument("--cache-dir", default="data/cache")
    parser.add_argument("--keep-archive", action="store_true")
    args = parser.parse_args(argv)
    record = fetch_source(SOURCES[args.source], args.cache_dir, keep_archive=args.keep_archive)
    print(record)


if __name__ == "__main__":
    main()
