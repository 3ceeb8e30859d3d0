"""Step 3 of reading a model file from elsewhere (see medsweep.learn.persistence): what no check can rule out
(LightGBM and XGBoost parse their own model formats in C++; memory a valid-looking model needs) is contained
by :class:`ModelProcess`: the model is loaded and used in a child process under an address-space and a time
limit, so a bad file ends in one line (:class:`UntrustedModelError`), never in a crash or a hang of the
caller. The child loads it with medsweep.learn.model_file.load_model (steps 1 and 2 first).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from medsweep.escape import one_line
from medsweep.learn.model_archive import UntrustedModelError, error_line
from medsweep.learn.model_file import load_model

# Limits of the child process that loads and uses a model from outside the sweep (ModelProcess); the
# command-line defaults of `medsweep predict`.
MEMORY_MB = 8192
TIMEOUT_S = 600


def model_info(model: Any) -> dict:
    """What a caller needs to know of a loaded pipeline without holding it: its classes, its input
    columns, and the text (one-hot encoded) ones among them (preprocess.py: the "categorical" step)."""
    pipeline = getattr(model, "regressor_", model)  # MLP regression wraps the pipeline
    text: list = []
    steps = getattr(pipeline, "named_steps", {})
    for name, _, columns in getattr(steps.get("preprocess"), "transformers_", []) if "preprocess" in steps else []:
        if name == "categorical":
            text.extend(str(c) for c in columns)
    names = getattr(pipeline, "feature_names_in_", None)
    classes = getattr(model, "classes_", None)
    return {"classes": None if classes is None else [str(c) for c in classes],
            "features": None if names is None else [str(c) for c in names], "text": text}


def _frame(stream: Any, limit: int) -> Optional[bytes]:
    head = stream.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    if n > limit:
        raise ValueError(f"a message of {n} bytes (at most {limit} expected)")
    data = stream.read(n)
    if len(data) < n:
        return None
    return data


def _send(stream: Any, header: dict, array: Optional[np.ndarray] = None) -> None:
    data = json.dumps(header).encode()
    stream.write(struct.pack("<Q", len(data)) + data)
    if array is not None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        stream.write(struct.pack("<Q", buffer.tell()) + buffer.getvalue())
    stream.flush()



def _serve(path: str, memory_mb: int) -> None:
    """The child: load under the memory limit, say what the model is, then answer requests (a pickled
    ``(method, frame)`` from the parent, trusted) with plain JSON and .npy bytes (never a pickle: once the
    model is loaded this process is not trusted)."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the answers
    parent = os.getppid()

    def end_with_the_parent() -> None:  # a model that hangs must not outlive a caller killed meanwhile
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=end_with_the_parent, daemon=True).start()
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        model = load_model(path)
        info = model_info(model)
    except UntrustedModelError as exc:
        _send(out, {"error": str(exc)})
        sys.exit(2)
    except (MemoryError, Exception) as exc:  # noqa: BLE001 - one line to the parent, whatever it was
        _send(out, {"error": f"{path} could not be loaded ({error_line(exc)})"})
        sys.exit(2)
    _send(out, {"info": info})
    requests = sys.stdin.buffer
    while True:
        data = _frame(requests, 1 << 40)
        if data is None:
            return
        method, frame = pickle.loads(data)
        try:
            result = np.asarray(getattr(model, method)(frame))
            if result.dtype.kind not in "fiub":
                raise TypeError(f"{method} gave {result.dtype} values, not numbers")
            _send(out, {"ok": True}, result)
        except (MemoryError, Exception) as exc:  # noqa: BLE001
            _send(out, {"error": f"{path} failed to {method} ({error_line(exc)})"})


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class ModelProcess:
    """A model file loaded and used in a child process limited to ``memory_mb`` of address space and
    ``timeout_s`` per step (loading, each call): ``predict_proba(X)``/``predict(X)`` return the child's
    arrays, ``info`` what :func:`model_info` says. Whatever the file does (refused by the checks, an
    exception, a crash by a signal, exhausted memory, a hang), the caller gets one
    :class:`UntrustedModelError`. Use it as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path, memory_mb: int = MEMORY_MB, timeout_s: float = TIMEOUT_S):
        self.path, self.timeout_s = Path(path), timeout_s
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # this medsweep, whatever sys.path says
        env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("MALLOC_ARENA_MAX", "2")  # address space per thread stays small under the limit
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-c",
                 f"from medsweep.learn.model_process import _serve; _serve({str(self.path)!r}, {int(memory_mb)})"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        except OSError as exc:
            self._stderr.close()
            raise UntrustedModelError(f"{self.path}: the process to load it could not start "
                                      f"({exc.strerror or exc})") from None
        info = self._answer(1 << 24, "loading it").get("info")
        described = isinstance(info, dict) and _texts(info.get("text")) and all(
            info.get(k) is None or _texts(info.get(k)) for k in ("classes", "features"))
        if not described:
            raise self._fail("loading it", "gave no description of the model")
        self.info = info

    def _fail(self, doing: str, why: str) -> UntrustedModelError:
        self.close()
        return UntrustedModelError(f"{self.path}: {doing} {why}")

    def _read(self, n: int, deadline: float, doing: str) -> bytes:
        data = bytearray()
        pipe = self._child.stdout
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                raise self._fail(doing, f"took longer than {self.timeout_s:g} s, so it was stopped")
            chunk = os.read(pipe.fileno(), min(n - len(data), 1 << 20))
            if not chunk:
                self._child.wait()
                code = self._child.returncode
                if code < 0:
                    name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
                    raise self._fail(doing, f"killed the process using it by {name}: the file is malformed, or "
                                     "needs more memory than the limit allows")
                raise self._fail(doing, f"ended the process using it (exit {code}){self._last_error()}")
            data += chunk
        return bytes(data)

    def _last_error(self) -> str:
        self._stderr.seek(0)
        lines = [line for line in self._stderr.read()[-4000:].decode(errors="replace").splitlines() if line.strip()]
        return f": {one_line(lines[-1], 300)}" if lines else ""

    def _answer(self, limit: int, doing: str) -> dict:
        deadline = time.monotonic() + self.timeout_s
        (n,) = struct.unpack("<Q", self._read(8, deadline, doing))
        if n > 1 << 24:
            raise self._fail(doing, f"gave an answer of {n} bytes")
        header = json.loads(self._read(n, deadline, doing))
        if not isinstance(header, dict):
            raise self._fail(doing, "gave no answer")
        if "error" in header:  # the child's words: printable characters only
            message = one_line(header["error"], 1000)
            self.close()
            raise UntrustedModelError(message)
        if header.get("ok"):
            (n,) = struct.unpack("<Q", self._read(8, deadline, doing))
            if n > limit:
                raise self._fail(doing, f"gave {n} bytes of predictions (at most {limit} expected)")
            try:
                header["array"] = np.load(io.BytesIO(self._read(n, deadline, doing)), allow_pickle=False)
            except ValueError as exc:
                raise self._fail(doing, f"gave no array of numbers ({exc})") from None
        return header

    def _call(self, method: str, X: Any) -> np.ndarray:
        if self._child.poll() is not None:
            raise UntrustedModelError(f"{self.path}: the process using it has ended")
        data = pickle.dumps((method, X), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._child.stdin.write(struct.pack("<Q", len(data)) + data)
            self._child.stdin.flush()
        except BrokenPipeError:
            pass  # it died: _answer says how
        n_classes = len(self.info.get("classes") or ()) or 1
        limit = 1024 + 8 * len(X) * max(n_classes, 1) * 2
        array = self._answer(limit, f"predicting with it ({method})")["array"]
        if len(array) != len(X):
            raise self._fail(method, f"gave {len(array)} predictions for {len(X)} rows")
        return array

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._call("predict_proba", X)

    def predict(self, X: Any) -> np.ndarray:
        return self._call("predict", X)

    def warnings(self) -> str:
        """What the child wrote on stderr (warnings of the libraries, as the caller would have seen them)."""
        if self._stderr.closed:
            return self._warnings
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def close(self) -> None:
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        for stream in (self._child.stdin, self._child.stdout):
            try:
                stream.close()
            except OSError:
                pass
        # The temporary file goes with the process (also when a refusal closes it, or no `with` is used);
        # what the child wrote stays readable by warnings().
        if not self._stderr.closed:
            self._warnings = self.warnings()
            self._stderr.close()

    def __enter__(self) -> "ModelProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit
            pass
