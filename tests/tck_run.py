"""Run the official A2A conformance kit (a2aproject/a2a-tck) against this server.

`make tck TCK_DIR=<checkout of the kit's 1.0 branch> TCK03_DIR=<its 0.3.x branch>`
starts the adapter with the built-in emulator on a free port, runs the 1.0
suite (`run_tck.py --sut-host <agent URL> --transport jsonrpc`) and the 0.3
suite (`run_tck.py --sut-url <agent URL> --category all`) against the
conformance agent `tck`, classic (`/a2a/tck`) and versioned (`/a2a/tck:1`),
and prints the kit's MUST / SHOULD / MAY figures. The kit runs with the
Python that runs this script (`TCK_PYTHON`), which needs the kit's own
requirements.

The 0.3 kit reads the card only at the host root
(`/.well-known/agent-card.json`), so each agent is served by a server of its
own started with `A2A_DEFAULT_AGENT=<agent>`, whose root card points at
`/a2a/<agent>`; both kits run unmodified.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AGENTS = ("tck", "tck:1")
CATEGORIES = ("mandatory", "capabilities", "transport-equivalence", "quality", "features")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(agent: str) -> tuple[subprocess.Popen[bytes], str]:
    """The adapter and its emulator, with `agent`'s card at the host root too."""
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AGENTS_", "GATEWAY_"))
    }
    env["A2A_DEFAULT_AGENT"] = agent
    server = subprocess.Popen(
        [sys.executable, "-m", "agents_core", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/.well-known/agent-card.json", timeout=1)
            return server, base
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def run_10(kit: Path, python: str, url: str) -> dict[str, Any]:
    """The 1.0 suite's summary: `must_compatibility` etc. and the counts per level."""
    command = [python, "run_tck.py", "--sut-host", url, "--transport", "jsonrpc"]
    output = subprocess.run(command, cwd=kit, capture_output=True, text=True, check=False).stdout
    report = json.loads((kit / "reports" / "compatibility.json").read_text())
    counts = {
        level: re.search(rf"│ {level}\s+│\s+(\d+) │\s+(\d+) │\s+(\d+) │\s+(\d+) │", output)
        for level in ("MUST", "SHOULD", "MAY")
    }
    failed = sorted(
        f"{item['level']} {name}"
        for name, item in report["per_requirement"].items()
        if item["status"] == "FAIL"
    )
    return {"summary": report["summary"], "counts": counts, "failed": failed}


def run_03(kit: Path, python: str, url: str) -> dict[str, str]:
    """The 0.3 suite's pytest summary line per category."""
    command = [python, "run_tck.py", "--sut-url", url, "--category", "all"]
    output = subprocess.run(command, cwd=kit, capture_output=True, text=True, check=False).stdout
    lines = re.findall(
        r"^=*\s*(\d+ (?:passed|failed|skipped|error)[^=\n]*?) in [\d.]+s", output, re.M
    )
    return dict(zip(CATEGORIES, lines, strict=False))


def _branch_copy(kit: Path, branch: str) -> Path | None:
    """The kit's `branch` exported next to the checkout (read from its git history only)."""
    target = Path(tempfile.gettempdir()) / f"a2a-tck-{branch}"
    for ref in (branch, f"origin/{branch}"):
        archive = subprocess.run(
            ["git", "-C", str(kit), "archive", ref], capture_output=True, check=False
        )
        if archive.returncode == 0:
            target.mkdir(exist_ok=True)
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
            return target
    return None


def main() -> int:
    kit10 = Path(os.environ.get("TCK_DIR", "")).resolve()
    kit03 = Path(os.environ["TCK03_DIR"]).resolve() if os.environ.get("TCK03_DIR") else None
    if kit03 is None:
        kit03 = _branch_copy(kit10, "0.3.x")
    python = os.environ.get("TCK_PYTHON", sys.executable)
    if not (kit10 / "run_tck.py").exists():
        raise SystemExit("set TCK_DIR to a checkout of a2aproject/a2a-tck (1.0 suite)")
    for agent in AGENTS:
        server, base = _start_server(agent)
        try:
            url = f"{base}/a2a/{agent}"
            result = run_10(kit10, python, url)
            summary = result["summary"]
            print(f"A2A TCK 1.0, JSON-RPC, {url}")
            for level, match in result["counts"].items():
                if match:
                    passed, failed, skipped, total = match.groups()
                    share = summary[f"{level.lower()}_compatibility"]
                    print(
                        f"  {level:6} {share:>6}  passed {passed}, failed {failed}, "
                        f"skipped {skipped} of {total}"
                    )
            for name in result["failed"]:
                print(f"  failed: {name}")
            if kit03 is not None and (kit03 / "run_tck.py").exists():
                print(f"A2A TCK 0.3, {url}")
                for category, line in run_03(kit03, python, url).items():
                    print(f"  {category:22} {line}")
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
