"""`make lab`'s server for real: JupyterLab from .venv on a free loopback port, its REST API, a notebook run on the
project's kernel through the server's websocket, then shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

from conftest import BIN_DIR, PROJECT_ROOT

pytestmark = pytest.mark.slow

KERNEL_NAME = "drivelab"  # registered by `make setup` (ipykernel install --sys-prefix)
NOTEBOOK = "02_run_comparison.ipynb"  # the quickest: no model, no torch


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A JupyterLab process and a small REST client for it."""

    def __init__(self, notebook_dir: Path, home: Path, env: Dict[str, str]) -> None:
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **env, "JUPYTER_CONFIG_DIR": str(home / "config"),
               "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython")}
        # The same server `make lab` starts, plus a fixed port and token and no browser.
        command = [str(BIN_DIR / "python"), "-m", "jupyter", "lab", "--allow-root", f"--notebook-dir={notebook_dir}",
                   f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}", "--no-browser", "--ip=127.0.0.1",
                   f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={self.token}"]
        self.log = open(home / "server.log", "w")
        self.process = subprocess.Popen(command, cwd=home, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = Path(self.log.name).read_text()
                raise AssertionError(f"jupyter lab exited {self.process.returncode}:\n{log}")
            try:
                self.request("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        raise AssertionError(f"jupyter lab did not answer in {timeout_s} s:\n{Path(self.log.name).read_text()}")

    def stop(self) -> int:
        """Shut down through the API (what the UI's File > Shut Down does); kill only if that fails."""
        try:
            self.request("POST", "/api/shutdown")
            return self.process.wait(timeout=30)
        except (urllib.error.URLError, ConnectionError, subprocess.TimeoutExpired):
            self.process.kill()
            return self.process.wait(timeout=30)
        finally:
            self.log.close()


async def run_cells(server: Server, kernel_id: str, sources: List[str]) -> Dict[str, Any]:
    """Execute each source on the kernel through the server's websocket (Jupyter messaging protocol 5.3);
    stop at the first error. Returns the replies' statuses, errors and how many images were displayed."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels"
    connection = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {server.token}"}))
    session = uuid.uuid4().hex
    result: Dict[str, Any] = {"statuses": [], "errors": [], "images": 0}
    try:
        for source in sources:
            msg_id = uuid.uuid4().hex
            header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": session,
                      "date": "", "version": "5.3"}
            content = {"code": source, "silent": False, "store_history": True, "user_expressions": {},
                       "allow_stdin": False, "stop_on_error": True}
            await connection.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                                                       "content": content, "channel": "shell", "buffers": []}))
            replied = idle = False
            while not (replied and idle):
                raw = await asyncio.wait_for(connection.read_message(), timeout=180)
                if raw is None:
                    raise AssertionError("the kernel's websocket closed")
                message = json.loads(raw)
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = message["header"]["msg_type"]
                if kind == "execute_reply":
                    replied = True
                    result["statuses"].append(message["content"]["status"])
                elif kind == "status" and message["content"]["execution_state"] == "idle":
                    idle = True
                elif kind == "error":
                    result["errors"].append(f"{message['content']['ename']}: {message['content']['evalue']}")
                elif kind in ("display_data", "execute_result") and "image/png" in message["content"]["data"]:
                    result["images"] += 1
            if result["statuses"][-1] != "ok":
                break
    finally:
        connection.close()
    return result


def test_jupyterlab_lists_the_notebooks_and_kernel_and_runs_a_notebook(runs_with_sweep, dvc_experiments_repo, tmp_path):
    env = {"DRIVELAB_RUNS_DIR": str(runs_with_sweep), "DRIVELAB_DVC_REPO": str(dvc_experiments_repo)}
    server = Server(PROJECT_ROOT / "notebooks", tmp_path, env)
    try:
        server.wait_ready()
        listed = {item["name"] for item in server.request("GET", "/api/contents")["content"]}
        assert {"01_data_exploration.ipynb", "02_run_comparison.ipynb", "03_error_analysis.ipynb"} <= listed

        kernelspecs = server.request("GET", "/api/kernelspecs")
        assert KERNEL_NAME in kernelspecs["kernelspecs"], "the project's kernel is not registered: run `make setup`"
        assert kernelspecs["default"] == KERNEL_NAME
        spec = kernelspecs["kernelspecs"][KERNEL_NAME]["spec"]
        assert Path(spec["argv"][0]).parent == Path(sys.executable).parent  # this .venv's Python

        notebook = server.request("GET", f"/api/contents/{NOTEBOOK}?content=1&type=notebook")["content"]
        kernel_name = notebook["metadata"]["kernelspec"]["name"]
        kernel = server.request("POST", "/api/kernels", {"name": kernel_name})
        assert kernel["name"] == KERNEL_NAME
        sources = [cell["source"] for cell in notebook["cells"] if cell["cell_type"] == "code"]
        result = asyncio.run(run_cells(server, kernel["id"], sources))
        assert result["errors"] == [] and result["statuses"] == ["ok"] * len(sources)
        assert result["images"] >= 2  # the ranking and the learning curves
        server.request("DELETE", f"/api/kernels/{kernel['id']}")
        assert server.request("GET", "/api/kernels") == []
    finally:
        exit_code = server.stop()
    assert exit_code == 0
