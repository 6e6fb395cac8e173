"""A persistent Node.js process answering "what would JSON.stringify print?".

Starting ``node`` costs ~50 ms, far too slow for hypothesis to ask thousands of
questions, so one process serves every request over a line protocol on stdin /
stdout. Payloads travel base64-encoded so arbitrary bytes (invalid UTF-8,
newlines) and lone surrogates survive the trip unchanged.

Requests (one line each):
    ``R <base64 bytes>``     raw request body, decoded as body-parser does
    ``T <base64 UTF-16LE>``  a JS string given code unit by code unit
Answers (one line each):
    ``<base64 of the UTF-8 of JSON.stringify(JSON.parse(text))>``
    ``ERR``        JSON.parse threw
    ``EXC <msg>``  something else threw (e.g. JSON.stringify's RangeError)
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading

_SCRIPT = r"""
const readline = require("readline");
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  const payload = Buffer.from(line.slice(2), "base64");
  let text;
  if (line[0] === "R") {
    // body-parser: iconv-lite utf8 decoding (invalid -> U+FFFD) strips one BOM.
    text = payload.toString("utf8");
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  } else {
    text = payload.toString("utf16le");
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    process.stdout.write("ERR\n");
    return;
  }
  try {
    const out = Buffer.from(JSON.stringify(value), "utf8").toString("base64");
    process.stdout.write(out + "\n");
  } catch (e) {
    process.stdout.write("EXC " + String(e).replace(/\n/g, " ") + "\n");
  }
});
"""


class NodeJSON:
    """One long-lived ``node`` subprocess; thread-safe, one request at a time."""

    def __init__(self, node: str | None = None) -> None:
        executable = node or shutil.which("node")
        if executable is None:
            raise FileNotFoundError("node is not on PATH")
        # The pipes are binary: the protocol is pure ASCII and we must control
        # the encodings ourselves.
        self._proc = subprocess.Popen(
            [executable, "-e", _SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._lock = threading.Lock()

    def _ask(self, kind: str, payload: bytes) -> bytes | None:
        request = kind.encode() + b" " + base64.b64encode(payload) + b"\n"
        with self._lock:
            stdin, stdout = self._proc.stdin, self._proc.stdout
            if stdin is None or stdout is None:
                raise RuntimeError("node helper is closed")
            stdin.write(request)
            stdin.flush()
            answer = stdout.readline()
        if not answer:
            raise RuntimeError(f"node helper exited with {self._proc.poll()}")
        answer = answer.rstrip(b"\n")
        if answer == b"ERR":
            return None
        if answer.startswith(b"EXC "):
            raise RuntimeError(f"node threw outside JSON.parse: {answer[4:].decode()}")
        return base64.b64decode(answer)

    def restringify(self, body: bytes) -> bytes | None:
        """UTF-8 of JSON.stringify(JSON.parse(body as body-parser decodes it)), None on ERR."""
        return self._ask("R", body)

    def stringify(self, value_json_text: str) -> str | None:
        """JSON.stringify(JSON.parse(text)) for a str that may hold lone surrogates."""
        # UTF-16LE with surrogatepass hands node the exact code units, which a
        # UTF-8 transport could not do for lone surrogates.
        result = self._ask("T", value_json_text.encode("utf-16-le", "surrogatepass"))
        return None if result is None else result.decode("utf-8")

    def stringify_compact(self, obj: object) -> str:
        """Node's JSON.stringify of a JSON-able Python object (e.g. what a vendor signs)."""
        # ensure_ascii keeps the transport lossless; allow_nan=False because JS
        # has no literal for them and would otherwise answer ERR.
        result = self.stringify(json.dumps(obj, allow_nan=False))
        if result is None:
            raise ValueError("node's JSON.parse rejected the serialised object")
        return result

    def close(self) -> None:
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()  # EOF ends readline, so node exits by itself
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> NodeJSON:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
