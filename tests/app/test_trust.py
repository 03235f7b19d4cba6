"""Hostile and mistaken input through the running app, and its safe defaults.

The app (``app.py --tiny``) runs in a subprocess with a temporary run store; the tests talk to it as
a user's page does, through ``gradio_client`` (each event handler is an API endpoint).

- Bad input: each case gets a readable message naming the field (and, for our own checks, the
  fix), nothing returned holds a traceback, and a valid action right after it (checking the wool
  shop example) still works. Every case is recorded for the README's Reliability section.
- The app listens on 127.0.0.1 unless told otherwise.
- ``--auth user:password`` and ``GLOSSLAB_AUTH`` both require a login: the right password gets in,
  a wrong one or none is refused.
- Uploads are size-limited by the server and read as JSON only: a pickle or a Python expression
  uploaded as a spec runs nothing; a model folder with pickled weights is refused unread.
- Run ids and export names cannot leave the run store or the export folder, and the server's file
  route serves nothing from the run store, the project or the system.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx
import pytest
from gradio_client import Client, handle_file

from core.spec import limits
from core.spec.gloss import GlossSpec, builtin_examples
from tests.conftest import tiny_spec_dict
from tests.reliability import figure, record
from tests.app.test_concurrency import (endpoint_args, job_id_of, no_traceback, plain, spec_values, start_args,
                                        start_values, wait_job)
from tests.glossui.test_browser import start_app, stop_app

ROOT = Path(__file__).resolve().parents[2]


def wool_shop() -> dict:
    examples = builtin_examples()
    if "wool_shop" in examples:
        return GlossSpec.load(examples["wool_shop"]).to_dict()
    return GlossSpec.from_dict(tiny_spec_dict()).to_dict()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(url, run store, folder, process) of an app on the tiny model."""
    folder = tmp_path_factory.mktemp("trust")
    proc, url = start_app(folder / "runs", folder / "app.log")
    yield url, folder / "runs", folder, proc
    stop_app(proc)


@pytest.fixture(scope="module")
def client(app) -> Client:
    return Client(app[0], verbose=False)


@pytest.fixture(scope="module")
def trained(app, client) -> str:
    """The id of a short fine-tuning run made through the app (for generation and export cases)."""
    first = client.predict(*start_args(client, tiny_spec_dict(),
                                       finetune={"epochs": 1, "batch_size": 2, "grad_accum": 1}),
                           api_name="/start_training")
    assert "Job" in plain(first[0]), first[0]
    last = wait_job(client)
    assert "finished" in plain(last[0]), last[0]
    run_id = job_id_of(last[0])
    # The run pickers of this client's page now offer the run (as after pressing Refresh).
    choices = client.predict(None, api_name="/refresh_runs")[1]["choices"]
    assert run_id in [c[1] for c in choices]
    return run_id


# -- bad input -------------------------------------------------------------------------------------
@dataclass
class Ctx:
    client: Client
    url: str
    target: str
    tmp: Path


def check(ctx: Ctx, **changes) -> str:
    """Check the wool shop spec with ``changes`` (lists given as lists, one item a line in the box)."""
    return ctx.client.predict(*check_args(ctx.client, wool_shop() | changes), api_name="/check_spec")


def check_args(client: Client, spec: dict) -> list:
    return endpoint_args(client, "/check_spec", spec_values(spec))


def upload(ctx: Ctx, content: bytes, name: str = "spec.json") -> str:
    path = ctx.tmp / name
    path.write_bytes(content)
    return ctx.client.predict(handle_file(str(path)), api_name="/upload_spec")[-1]


def train(ctx: Ctx, **finetune) -> str:
    args = start_args(ctx.client, tiny_spec_dict(), finetune={"batch_size": 2, "grad_accum": 1} | finetune)
    return ctx.client.predict(*args, api_name="/start_training")[0]


def compare(ctx: Ctx, strategies: list[str], seeds) -> str:
    values = start_values(tiny_spec_dict(), finetune={"batch_size": 2, "grad_accum": 1})
    args = endpoint_args(ctx.client, "/start_comparison",
                         values | {"compare-strategies": strategies, "compare-seeds": seeds})
    return ctx.client.predict(*args, api_name="/start_comparison")[0]


def load_model(ctx: Ctx, folder: str) -> str:
    """Ask for another model and wait until its load ends; the Model tab's status."""
    ctx.client.predict(folder, api_name="/load_model")
    for _ in range(120):
        status = ctx.client.predict(api_name="/model_tick")[1]
        if "Loading" not in plain(status):
            return status
        time.sleep(0.25)
    raise AssertionError(f"the model load did not end: {status!r}")


class Evil:
    """Unpickling this would create a file: proof that nothing was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def marker(ctx: Ctx, name: str) -> Path:
    return ctx.tmp / f"{name}.ran"


def pickled_spec(ctx: Ctx, protocol: int) -> str:
    m = marker(ctx, f"pickle{protocol}")
    text = upload(ctx, pickle.dumps(Evil(m), protocol=protocol))
    assert not m.exists(), "the uploaded pickle was unpickled"
    return text


def python_spec(ctx: Ctx) -> str:
    m = marker(ctx, "eval")
    text = upload(ctx, f"__import__('pathlib').Path({str(m)!r}).touch()".encode())
    assert not m.exists(), "the uploaded text was run as Python"
    return text


def oversized_upload(ctx: Ctx) -> str:
    """A spec over the size limit: refused by the server (HTTP 413) and by the client before sending."""
    size = limits.SPEC_FILE_BYTES + 100_000
    body = json.dumps(wool_shop() | {"notes": "x" * size}).encode()
    r = httpx.post(ctx.url + "gradio_api/upload", files={"files": ("spec.json", body, "application/json")},
                   timeout=60)
    assert r.status_code == 413, (r.status_code, r.text[:200])
    try:
        upload(ctx, body)
    except ValueError as exc:
        return f"{r.text} / {exc}"
    raise AssertionError("the client uploaded a file over the limit")


def model_folder(ctx: Ctx, kind: str) -> str:
    """A model folder that must be refused before anything in it is read as code or weights."""
    folder = ctx.tmp / f"model-{kind}"
    folder.mkdir(exist_ok=True)
    if kind == "pickled":
        from core.model.tiny import tiny_model

        tiny_model()[0].config.to_json_file(folder / "config.json")
        m = marker(ctx, "model-pickle")
        (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Evil(m)))
        text = load_model(ctx, str(folder))
        assert not m.exists(), "the pickled weights were unpickled"
        return text
    if kind == "not-causal":
        from transformers import DistilBertConfig  # an encoder: no text-generation head exists for it

        DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64, vocab_size=100).to_json_file(
            folder / "config.json")
    if kind == "too-large":
        from transformers import LlamaConfig

        LlamaConfig(hidden_size=16384, intermediate_size=53248, num_hidden_layers=126, num_attention_heads=128,
                    vocab_size=128256).to_json_file(folder / "config.json")
    return load_model(ctx, str(folder))


# (case, words the message must contain, the action). The first word is the field as the page names it.
BAD: list[tuple[str, tuple[str, ...], Callable[[Ctx], str]]] = [
    ("empty gloss", ("glosses", "has 0 items"), lambda c: check(c, glosses=["   "])),
    ("whitespace-only symbol id", ("symbol_id", "is empty"), lambda c: check(c, symbol_id="   ")),
    ("new token with a space", ("new_token",), lambda c: check(c, new_token="[BLISS 1]")),
    ("duplicate positive contexts", ("positive_contexts", "repeats item 1"),
     lambda c: check(c, positive_contexts=wool_shop()["positive_contexts"][:3] * 2)),
    ("too few positive contexts", ("positive_contexts", "at least 3"),
     lambda c: check(c, positive_contexts=wool_shop()["positive_contexts"][:2])),
    ("generation prompt without {placeholder}", ("generation_prompts", "{placeholder}"),
     lambda c: check(c, generation_prompts=["At the shop you can buy"])),
    ("target token of several tokens", ("target_tokens", "not one"),     # the tiny tokenizer splits it
     lambda c: check(c, target_tokens=["wool", "zzqxv"])),
    ("target token with a space", ("target_tokens", "single word"),
     lambda c: check(c, target_tokens=["knitting supplies"])),
    ("fine-tuning sentence without the token", ("fine_tuning_sentences", "does not contain the new token"),
     lambda c: check(c, fine_tuning_sentences=["A sentence without it.", "Nor this one."])),
    ("control character in a gloss", ("glosses", "control character"), lambda c: check(c, glosses=["wool\x07shop"])),
    ("right-to-left override in a gloss", ("glosses", "bidirectional"),
     lambda c: check(c, glosses=["wool \u202eshop"])),
    ("a 10 MB field", ("notes", "over the limit"), lambda c: check(c, notes="x" * 10_000_000)),
    ("truncated JSON upload", ("spec file", "not valid JSON"),
     lambda c: upload(c, b'{"symbol_id": "29111", "glosses": ["wool shop"')),
    ("upload with a wrong type", ("glosses", "must be a list"),
     lambda c: upload(c, json.dumps(wool_shop() | {"glosses": 5}).encode())),
    ("upload of a JSON list", ("spec", "JSON object"), lambda c: upload(c, b'["wool shop"]')),
    ("upload of a pickle (text protocol)", ("spec file", "not valid JSON"), lambda c: pickled_spec(c, 0)),
    ("upload of a pickle (binary protocol)", ("spec file",), lambda c: pickled_spec(c, 4)),
    ("upload of Python code", ("spec file", "not valid JSON"), python_spec),
    ("upload over the size limit", (f"{limits.SPEC_FILE_BYTES}", "maximum"), oversized_upload),
    ("upload with a 1.9 MB field", ("notes", "over the limit"),
     lambda c: upload(c, json.dumps(wool_shop() | {"notes": "x" * 1_900_000}).encode())),
    ("learning rate 0", ("learning_rate",), lambda c: train(c, learning_rate=0)),
    ("negative learning rate", ("learning_rate",), lambda c: train(c, learning_rate=-0.001)),
    ("learning rate NaN", ("learning_rate",), lambda c: train(c, learning_rate="nan")),
    ("epochs 0", ("epochs",), lambda c: train(c, epochs=0)),
    ("batch larger than the data", ("batch_size", "larger than"), lambda c: train(c, batch_size=64)),
    ("comparison with no strategy", ("strateg",), lambda c: compare(c, [], 1)),
    ("comparison with 0 seeds", ("seeds",), lambda c: compare(c, ["average", "random"], 0)),
    ("model folder that is not there", ("model", "does not exist"),
     lambda c: load_model(c, str(c.tmp / "no-such-model"))),
    ("folder with no model", ("model", "holds no model"), lambda c: model_folder(c, "empty")),
    ("model with pickled weights only", ("model", "safetensors"), lambda c: model_folder(c, "pickled")),
    ("model that is not a causal LM", ("model", "not a causal language model"),
     lambda c: model_folder(c, "not-causal")),
    ("model too large for this machine", ("model", "GiB"), lambda c: model_folder(c, "too-large")),
    ("custom prompt without {placeholder}", ("prompt", "{placeholder}"),
     lambda c: c.client.predict(c.target, "At the shop", 8, api_name="/generate_custom")[0]),
    ("0 tokens to generate", ("tokens to generate",),
     lambda c: c.client.predict(c.target, "At the {placeholder} you can", 0, api_name="/generate_custom")[0]),
    ("export name with ../", ("export name", "not a valid folder name"),
     lambda c: c.client.predict(c.target, "../escaped", api_name="/export_merged")[0]),
    ("export name as an absolute path", ("export name", "not a valid folder name"),
     lambda c: c.client.predict(c.target, str(c.tmp / "absolute"), api_name="/export_merged")[0]),
]


@pytest.mark.parametrize("case,needles,action", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_a_message_naming_the_field(app, client, trained, tmp_path, case, needles, action):
    ctx = Ctx(client, app[0], trained, tmp_path)
    try:
        message = action(ctx)
    except Exception as exc:  # a toast (gr.Error) reaches the client as an exception: its text counts
        if type(exc).__name__ not in ("AppError", "ValueError"):
            raise
        message = str(exc)
    text = plain(message)
    named = all(n.casefold() in text.casefold() for n in needles)   # "Notes" names the field notes
    clean = no_traceback(message)
    record("app", case, named and clean, text.replace("\n", " ")[:300])
    assert clean, text
    assert named, f"{case}: expected {needles} in {text!r}"
    # A valid action in the same app still works.
    after = plain(client.predict(*check_args(client, wool_shop()), api_name="/check_spec"))
    assert "The spec is valid" in after, after


# -- listening address -------------------------------------------------------------------------------
def listening(port: int) -> list[str]:
    """Addresses with a TCP socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            address, hex_port = cols[1].split(":")
            if int(hex_port, 16) == port and cols[3] == "0A":  # 0A = LISTEN
                found.append(socket.inet_ntoa(struct.pack("<I", int(address, 16))) if len(address) == 8
                             else f"ipv6:{address}")
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_the_app_listens_on_loopback_only(app):
    url = app[0]
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    # The kernel's own table of listening sockets: bound to loopback alone, not 0.0.0.0 or ::
    # (no connection to any other address is tried: tests talk to loopback only).
    assert listening(port) == ["127.0.0.1"]
    figure("listening address", "127.0.0.1 only (the kernel's table of listening sockets, /proc/net/tcp and tcp6)")


# -- password --------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["flag", "environment"])
def test_password_protection(tmp_path, how):
    user, password = "linguist", "wool:shop-42"   # a ':' inside the password is kept
    extra = ["--auth", f"{user}:{password}"] if how == "flag" else []
    env = {"GLOSSLAB_AUTH": f"{user}:{password}"} if how == "environment" else {}
    proc, url = start_app(tmp_path / "runs", tmp_path / "app.log", extra=extra, env=env)
    try:
        ok = Client(url, auth=(user, password), verbose=False)
        status = plain(ok.predict(*check_args(ok, wool_shop()), api_name="/check_spec"))
        assert "The spec is valid" in status
        with pytest.raises(ValueError, match="Could not login"):
            Client(url, auth=(user, "wool:shop-43"), verbose=False)
        with pytest.raises(Exception, match="credentials|login"):
            Client(url, verbose=False)
        # Without the session cookie the server answers nothing: no config, no upload, no login.
        assert httpx.get(url + "config", timeout=10).status_code == 401
        assert httpx.post(url + "gradio_api/upload", files={"files": ("a.json", b"{}")}, timeout=10).status_code == 401
        assert httpx.post(url + "login", data={"username": user, "password": "x"}, timeout=10).status_code >= 400
    finally:
        stop_app(proc)
    figure(f"password protection ({how})", "right password logs in and calls the app; wrong or none is refused")


# -- uploads and safe loading -------------------------------------------------------------------------
def test_upload_limit_is_the_spec_file_limit(app):
    config = httpx.get(app[0] + "config", timeout=10).json()
    assert config["max_file_size"] == limits.SPEC_FILE_BYTES
    small = httpx.post(app[0] + "gradio_api/upload", files={"files": ("spec.json", b"{}")}, timeout=10)
    assert small.status_code == 200


def test_no_code_runs_from_user_files():
    """Nothing the app reads is unpickled, evaluated or loaded with remote code."""
    forbidden = ("pickle.load", "torch.load(", "eval(", "exec(", "trust_remote_code=True", "yaml.load(")
    found = []
    for path in [ROOT / "app.py", *sorted((ROOT / "core").rglob("*.py")), *sorted((ROOT / "glossui").rglob("*.py"))]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0].replace(".eval()", "")
            found += [f"{path.relative_to(ROOT)}:{n}: {word}" for word in forbidden if word in code]
    assert not found, found


# -- paths -----------------------------------------------------------------------------------------
def test_run_ids_and_export_names_stay_inside(app, client, trained):
    url, runs, folder, _proc = app
    exports = runs.parent / "exports"
    before = sorted(p.name for p in folder.iterdir())
    hostile = ["../x", "..", "/etc", "/etc/passwd", str(runs / trained), f"{trained}/../{trained}",
               f"../{runs.name}/{trained}", "..\\x", f"{trained}:../../x"]
    refused = 0
    tried = 0
    for run_id in hostile:
        for api, args in (("/open_run", (run_id,)), ("/export_adapter", (run_id,)), ("/run_generations", (run_id,)),
                          ("/delete_run", (run_id,)), ("/generate_custom", (run_id, "At the {placeholder}", 4)),
                          ("/export_merged", (run_id, "x"))):
            tried += 1
            try:
                out = client.predict(*args, api_name=api)
            except Exception as exc:  # refused: the run pickers take only ids from the run list
                assert no_traceback(exc)
                refused += 1
                continue
            text = plain(str(out))
            assert "Please fix" in text and no_traceback(out), (api, run_id, text[:300])
            refused += 1
    for name in ("../escaped", "../../escaped", str(folder / "absolute"), "/tmp/absolute-export", "..", ".hidden",
                 "a/b"):
        tried += 1
        text = plain(client.predict(trained, name, api_name="/export_merged")[0])
        assert "export name" in text and "not a valid folder name" in text, (name, text)
        refused += 1
    assert not (folder / "escaped").exists() and not (folder / "absolute").exists()
    assert not Path("/tmp/absolute-export").exists()
    # Nothing appeared or went missing beside the run store, and the run is whole.
    assert sorted(p.name for p in folder.iterdir() if p.name != "exports") == [n for n in before if n != "exports"]
    assert (runs / trained / "status.json").is_file() and (runs / trained / "adapter").is_dir()
    # A plain name works and lands inside the export folder.
    text = plain(client.predict(trained, "trust-ok", api_name="/export_merged")[0])
    assert "Saved the merged model" in text, text
    assert (exports / "trust-ok" / "config.json").is_file()
    # The file route serves none of the run store, the project or the system.
    for path in (runs / trained / "spec.json", runs / trained / "status.json", ROOT / "app.py", Path("/etc/passwd"),
                 exports / "trust-ok" / "config.json"):
        r = httpx.get(f"{url}gradio_api/file={path}", timeout=10)
        tried += 1
        assert r.status_code in (403, 404), (path, r.status_code)
        refused += 1
    figure("hostile paths through the app", f"{refused} of {tried} run ids, export names and file requests that "
           "point outside the run store or the export folder were refused")
