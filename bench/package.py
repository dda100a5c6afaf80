"""4. Deployment package size: `chalice package`, zipped, in a scratch copy of the project.

The copy holds exactly what ships (app.py, chalicelib/, requirements.txt, .chalice/config.json).
Chalice's automatic IAM policy generator is switched off in the copy only, with a placeholder
policy: it cannot parse app.py today, and the policy does not change what goes in the zip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

from bench.common import ROOT, child_environment
from bench.report import Figure, verdict

SECTION = "4. Deployment package"
GOAL_BYTES = 1_000_000
SHIPPED = ("app.py", "chalicelib", "requirements.txt")


def _project_copy(scratch: Path) -> Path:
    project = scratch / "project"
    (project / ".chalice").mkdir(parents=True)
    for name in SHIPPED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / name)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    config.update(autogen_policy=False, iam_policy_file="policy.json")
    (project / ".chalice" / "config.json").write_text(json.dumps(config))
    placeholder = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
    }
    (project / ".chalice" / "policy.json").write_text(json.dumps(placeholder))
    return project


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="people-bench-") as tmp:
        project = _project_copy(Path(tmp))
        out = Path(tmp) / "out"
        script = "import sys; from chalice.cli import main; sys.argv[0] = 'chalice'; sys.exit(main())"
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                "--project-dir",
                str(project),
                "package",
                "--stage",
                "dev",
                str(out),
            ],
            env=child_environment({"AWS_DEFAULT_REGION": "us-east-1"}),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"chalice package failed:\n{proc.stderr[-3000:]}")
        archive = out / "deployment.zip"
        size = archive.stat().st_size
        by_top: Counter[str] = Counter()
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                by_top[info.filename.split("/", 1)[0]] += info.compress_size
    largest = ", ".join(f"{name} {n / 1e6:.1f} MB" for name, n in by_top.most_common(4))
    ok = size <= GOAL_BYTES
    return [
        Figure(
            "package.zip",
            SECTION,
            "deployment.zip from `chalice package --stage dev`",
            float(size),
            "bytes",
            f"{size / 1e6:.2f} MB",
            f"largest parts (compressed): {largest}",
            "≤ 1 MB (1,000,000 bytes)",
            verdict(ok),
            ""
            if ok
            else "botocore arrives as a dependency of pynamodb; packaging (issue 4) is reworking this",
            detail={"bytes": size, "by_top_level": dict(by_top)},
        )
    ]
