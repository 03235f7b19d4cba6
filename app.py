"""Gloss Lab: start the web app (also the Hugging Face Spaces entry point).

    python app.py                         # the embedded default model, http://127.0.0.1:7860
    python app.py --model HuggingFaceTB/SmolLM2-360M-Instruct --runs /data/runs
    python app.py --host 0.0.0.0 --auth linguist:secret   # reachable from other machines, with a password
    GLOSSLAB_TINY=1 python app.py         # a tiny random model built in-process (for tests)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from core.spec import limits


def parse_auth(text: str | None) -> tuple[str, str] | None:
    """'user:password' -> (user, password); None when not set. The password may contain ':'."""
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise SystemExit("--auth / GLOSSLAB_AUTH must look like user:password (both non-empty)")
    return user, password


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(
        description="Gloss Lab: a new token for a Bliss symbol, initialized, fine-tuned, compared.")
    p.add_argument("--host", default=env.get("GLOSSLAB_HOST") or env.get("GRADIO_SERVER_NAME") or "127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=int(env.get("GLOSSLAB_PORT") or env.get("GRADIO_SERVER_PORT") or 7860))
    p.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    p.add_argument("--auth", default=env.get("GLOSSLAB_AUTH"),
                   help="user:password to require a login (or set GLOSSLAB_AUTH)")
    p.add_argument("--model", default=env.get("GLOSSLAB_MODEL"),
                   help="Hugging Face id or local folder (default: the embedded SmolLM2-135M-Instruct)")
    p.add_argument("--runs", default=env.get("GLOSSLAB_RUNS", "runs"), help="run store folder (default ./runs)")
    p.add_argument("--exports", default=env.get("GLOSSLAB_EXPORTS"),
                   help="where merged models are saved (default: 'exports' beside the run store)")
    p.add_argument("--tiny", action="store_true", default=env.get("GLOSSLAB_TINY") == "1",
                   help="use a tiny random Llama built in-process (fast tests; or GLOSSLAB_TINY=1)")
    return p.parse_args(argv)


def create(args: argparse.Namespace):
    """(demo, service): the page and the engine facade behind it; the model starts loading now."""
    from core.service import Service
    from glossui import build_app

    service = Service(model=args.model, runs_dir=args.runs, exports_dir=args.exports, tiny=args.tiny)
    demo = build_app(service)
    service.models.load()  # in the background; the Model tab shows its progress
    return demo, service


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    auth = parse_auth(args.auth)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from glossui import launch_kwargs

    demo, service = create(args)
    demo.launch(
        server_name=args.host, server_port=args.port, share=args.share, auth=auth,
        auth_message="Gloss Lab: please sign in." if auth else None,
        max_file_size=limits.SPEC_FILE_BYTES,   # uploads are spec files only
        footer_links=["gradio"],                  # no API page link in the footer
        allowed_paths=[str(service.downloads.root)],
        **launch_kwargs(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
