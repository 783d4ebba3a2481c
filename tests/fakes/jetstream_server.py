"""A small Jetstream on loopback, speaking its documented WebSocket protocol.

``GET /subscribe?wantedCollections=<nsid>&wantedDids=<did>&cursor=<time_us>`` upgrades to a
WebSocket on which the server sends one JSON text message per event::

    {"did": "did:plc:…", "time_us": 1725911162329308, "kind": "commit",
     "commit": {"rev": "…", "operation": "create", "collection": "app.bsky.feed.post",
                "rkey": "…", "record": {…}, "cid": "…"}}

(``kind`` ``identity`` and ``account`` carry ``identity`` / ``account`` objects instead.) Without
``cursor`` only new events are sent; with it, every stored event at or after that time is
replayed first, then live ones follow. ``wantedCollections`` / ``wantedDids`` filter commits
(identity and account events are filtered by ``wantedDids`` only), as the real service does.

Knobs: ``attach(fake_bluesky)`` mirrors the fake PDS's record writes as commits, ``add_commit``
/ ``add_identity`` add events by hand, ``send_raw(text)`` sends a message as is to every
connection (malformed input), ``drop_connections()`` closes every connection abruptly, and
``connections_opened`` / ``requests`` tell what clients asked.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class FakeJetstream:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.events: list[dict[str, Any]] = []  # stored, time_us ascending
        self.raw: list[tuple[int, str]] = []  # (generation, text) sent as is to live connections
        self.generation = 0  # bumped by drop_connections: open handlers end
        self.requests: list[dict[str, list[str]]] = []
        self.live_connections = 0
        self.connections_opened = 0
        self._last_us = 0
        self.server: Server | None = None
        self.url = ""

    # ---------------------------------------------------------------- events

    def _next_time_us(self) -> int:
        # Real wall-clock microseconds (clients compute "now minus a few seconds" cursors),
        # strictly increasing.
        self._last_us = max(self._last_us + 1, int(time.time() * 1_000_000))
        return self._last_us

    def _add(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.cond:
            event["time_us"] = self._next_time_us()
            self.events.append(event)
            self.cond.notify_all()
            return event

    def add_commit(self, did: str, collection: str, rkey: str, record: dict[str, Any] | None,
                   operation: str = "create") -> dict[str, Any]:
        commit: dict[str, Any] = {"rev": f"rev{len(self.events)}", "operation": operation,
                                  "collection": collection, "rkey": rkey}
        if operation != "delete":
            commit["record"] = record
            commit["cid"] = f"bafyfake{len(self.events)}"
        return self._add({"did": did, "kind": "commit", "commit": commit})

    def add_identity(self, did: str, handle: str) -> dict[str, Any]:
        return self._add({"did": did, "kind": "identity",
                          "identity": {"did": did, "handle": handle, "seq": len(self.events), "time": ""}})

    def attach(self, bluesky: Any) -> None:
        """Mirror every record the fake Bluesky PDS writes as a ``create`` commit."""
        bluesky.record_listeners.append(
            lambda did, collection, rkey, record: self.add_commit(did, collection, rkey, record))

    def send_raw(self, text: str) -> None:
        with self.cond:
            self.raw.append((self.generation, text))
            self.cond.notify_all()

    def drop_connections(self) -> None:
        with self.cond:
            self.generation += 1
            self.cond.notify_all()

    def wait_connections(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` connections are open (live, after their replay)."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.live_connections >= count, timeout):
                raise AssertionError(f"expected {count} Jetstream connections, have {self.live_connections}")

    # ---------------------------------------------------------------- server

    @staticmethod
    def _wanted(event: dict[str, Any], collections: list[str], dids: list[str]) -> bool:
        if dids and event["did"] not in dids:
            return False
        if event["kind"] == "commit" and collections:
            collection = event["commit"]["collection"]
            return any(collection == c or (c.endswith(".*") and collection.startswith(c[:-1])) for c in collections)
        return True

    def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        with self.cond:
            self.requests.append(query)
            self.connections_opened += 1
            generation = self.generation
        collections, dids = query.get("wantedCollections", []), query.get("wantedDids", [])
        cursor = int(query["cursor"][0]) if query.get("cursor") else None
        with self.cond:
            if cursor is None:
                position = len(self.events)
            else:
                position = next((i for i, e in enumerate(self.events) if e["time_us"] >= cursor), len(self.events))
            raw_position = len(self.raw)
        live = False
        try:
            while True:
                with self.cond:
                    if not live and position >= len(self.events):
                        live = True
                        self.live_connections += 1
                        self.cond.notify_all()
                    self.cond.wait_for(
                        lambda p=position, r=raw_position: p < len(self.events) or r < len(self.raw)
                        or self.generation != generation, timeout=0.5)
                    if self.generation != generation:
                        return
                    pending = self.events[position:]
                    position = len(self.events)
                    raw = [text for gen, text in self.raw[raw_position:] if gen == generation]
                    raw_position = len(self.raw)
                for text in raw:
                    ws.send(text)
                for event in pending:
                    if self._wanted(event, collections, dids):
                        ws.send(json.dumps(event))
        except ConnectionClosed:
            return
        finally:
            with self.cond:
                if live:
                    self.live_connections -= 1
            # Abrupt: no closing handshake, as when a relay or a proxy goes away.
            ws.close_socket()

    def start(self) -> str:
        self.server = serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-jetstream").start()
        port = self.server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/subscribe"
        return self.url

    def stop(self) -> None:
        self.drop_connections()
        if self.server is not None:
            self.server.shutdown()
