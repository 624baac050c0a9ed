"""Start a real ComfyUI with this pack (through a helper script named by COMFY_HOST_SH, else by hand), post
workflows, stop it.

Only used by the integration tests, which skip unless COMFYUI_DIR (a ComfyUI checkout) and COMFY_PY (a python that
runs it) are set. Everything the server writes (models, input, output, user data) lives in a temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[2]


def find_host_script() -> Path | None:
    script = os.environ.get("COMFY_HOST_SH", "")
    return Path(script) if script and Path(script).is_file() else None


class ComfyServer:
    """A ComfyUI server on 127.0.0.1:<port> with this pack symlinked into custom_nodes/."""

    def __init__(self, root: Path, port: int = 8231) -> None:
        self.root = root
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.models = root / "models"
        self.input = root / "input"
        self.output = root / "output"
        self.user = root / "user"
        for d in (self.models, self.input, self.output, self.user):
            d.mkdir(parents=True, exist_ok=True)
        self.script = find_host_script()
        self.env = dict(os.environ, PORT=str(port), PACK_DIR=str(PACK_DIR), COMFY_HOST_STATE=str(root / "state"),
                        START_TIMEOUT="300", PROMPT_TIMEOUT="600")

    def write_extra_paths(self, folders: dict[str, str]) -> Path:
        lines = ["embody_test:", f"    base_path: {self.models}"]
        lines += [f"    {key}: {sub}" for key, sub in folders.items()]
        path = self.root / "extra_model_paths.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, extra_paths: Path) -> None:
        args = (f"--extra-model-paths-config {extra_paths} --input-directory {self.input} "
                f"--output-directory {self.output} --user-directory {self.user} --database-url sqlite:///:memory:")
        if self.script is not None:
            self.env["COMFY_EXTRA_ARGS"] = args
            subprocess.run(["bash", str(self.script), "start"], env=self.env, check=True, capture_output=True,
                           text=True)
            return
        # No comfy_host.sh: do the same by hand (symlink the pack, start main.py on loopback, wait for /object_info).
        comfy = Path(os.environ["COMFYUI_DIR"])
        self._link = comfy / "custom_nodes" / PACK_DIR.name
        if not self._link.exists():
            self._link.symlink_to(PACK_DIR)
        (self.root / "state").mkdir(exist_ok=True)
        log = open(self.root / "state" / "server.log", "w")  # noqa: SIM115 (kept open for the server's lifetime)
        cmd = [os.environ["COMFY_PY"], "main.py", "--cpu", "--disable-auto-launch", "--listen", "127.0.0.1",
               "--port", str(self.port), *args.split()]
        self._proc = subprocess.Popen(cmd, cwd=comfy, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while time.time() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited during start-up:\n{self.log()[-3000:]}")
            try:
                self.get("/object_info")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(1)
        self.stop()
        raise RuntimeError("ComfyUI did not answer /object_info within 300 s")

    def stop(self) -> None:
        if self.script is not None:
            subprocess.run(["bash", str(self.script), "stop"], env=self.env, capture_output=True, text=True)
            return
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        link = getattr(self, "_link", None)
        if link is not None and link.is_symlink():
            link.unlink()

    def log(self) -> str:
        path = self.root / "state" / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def get(self, route: str) -> object:
        with urllib.request.urlopen(self.base + route, timeout=60) as resp:
            return json.load(resp)

    def post(self, route: str, body: dict) -> None:
        """POST a JSON body to a route of this local server (e.g. /free, /interrupt)."""
        req = urllib.request.Request(self.base + route, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60):
            pass

    def run_prompt(self, prompt: dict, timeout: float = 600.0) -> dict:
        """POST an API-format prompt and wait; returns the /history entry (raises with the server's words on error)."""
        body = json.dumps({"prompt": prompt, "client_id": uuid.uuid4().hex}).encode()
        req = urllib.request.Request(self.base + "/prompt", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                prompt_id = json.load(resp)["prompt_id"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"prompt rejected ({exc.code}): {exc.read().decode(errors='replace')}") from None
        deadline = time.time() + timeout
        while time.time() < deadline:
            hist = self.get(f"/history/{prompt_id}")
            if isinstance(hist, dict) and prompt_id in hist:
                return hist[prompt_id]
            time.sleep(0.5)
        raise AssertionError(f"prompt {prompt_id} did not finish in {timeout:.0f} s")
