"""4. Deployment package size: the zip `make package` and `make deploy` build, measured as built.

Built by `infra.deploy.chalice` itself (the code `make deploy` runs: `chalice package` with
PIP_NO_DEPS=1 after clearing Chalice's zip cache), so the figure is the zip that ships, not a
second way of packaging. The Lambda runtime provides the AWS SDK (boto3, botocore), so the
zip holds app.py, chalicelib/ and requirements.txt's closure only.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

from bench.report import Figure, verdict

SECTION = "4. Deployment package"
GOAL_BYTES = 1_000_000
STAGE = "dev"


def build(out: Path) -> Path:
    """The package exactly as `make package` builds it; the zip's path."""
    from infra.deploy import ROOT, Project, package

    # As the Makefile does: packaging needs a region, never credentials.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    package(STAGE, Project(ROOT), out)
    return out / "deployment.zip"


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="people-bench-") as tmp:
        archive = build(Path(tmp) / "out")
        size = archive.stat().st_size
        by_top: Counter[str] = Counter()
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                by_top[info.filename.split("/", 1)[0]] += info.compress_size
    largest = ", ".join(f"{name} {n / 1e3:.0f} kB" for name, n in by_top.most_common(5))
    ok = size <= GOAL_BYTES
    return [
        Figure(
            "package.zip",
            SECTION,
            f"deployment.zip from `make package` (`chalice package --stage {STAGE}`, PIP_NO_DEPS=1)",
            float(size),
            "bytes",
            f"{size / 1e6:.2f} MB ({size:,} bytes)",
            f"largest parts (compressed): {largest}; the AWS SDK comes with the Lambda runtime",
            "≤ 1 MB (1,000,000 bytes)",
            verdict(ok),
            "" if ok else "something beyond requirements.txt's closure got into the zip",
            detail={"bytes": size, "by_top_level": dict(by_top)},
        )
    ]
