"""`make docs`: build dbt's docs site into data/docs and serve it on localhost."""

from __future__ import annotations

import contextlib
import functools
import http.server

from metawatch_dagster.config import Settings


def build_and_serve(settings: Settings, serve: bool, port: int = 8080) -> int:
    from metawatch_dagster.assets.dbt import build_docs

    docs_dir = build_docs(settings)
    print(f"dbt docs written to {docs_dir}")
    if not serve:
        return 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(docs_dir))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"serving dbt docs on http://127.0.0.1:{port}/  (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0
