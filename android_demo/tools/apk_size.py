"""What a bundle adds to an APK: each file the app ships, raw and deflated as the APK's zip stores assets.

    python android_demo/tools/apk_size.py BUNDLE_DIR

Ships exactly what app/build.gradle's copyBundle task copies: bundle.json and every file it lists.
Standard library only, so it runs wherever the bundle is.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path


def shipped_files(bundle: Path) -> list[Path]:
    manifest = json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))
    return [bundle / "bundle.json", *(bundle / name for name in sorted(manifest["files"]))]


def deflated_size(data: bytes) -> int:
    """Bytes of a raw deflate stream at zip's default level, as zip tools store an asset."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return len(packer.compress(data) + packer.flush())


def sizes(bundle: Path) -> list[tuple[str, int, int]]:
    rows = []
    for path in shipped_files(bundle):
        data = path.read_bytes()
        rows.append((path.name, len(data), deflated_size(data)))
    return rows


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not (Path(argv[0]) / "bundle.json").is_file():
        print("usage: python android_demo/tools/apk_size.py BUNDLE_DIR (a folder with bundle.json)", file=sys.stderr)
        return 2
    rows = sizes(Path(argv[0]))
    print("| file | bytes | deflated in the APK |\n|---|---:|---:|")
    for name, raw, packed in rows:
        print(f"| {name} | {raw:,} | {packed:,} |")
    print(f"| **total** | **{sum(r[1] for r in rows):,}** | **{sum(r[2] for r in rows):,}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
