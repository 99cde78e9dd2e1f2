"""A fault-injecting TCP proxy on loopback (asyncio, in a thread of the test process).

``FaultProxy(target_port)`` listens on ``127.0.0.1:<port>`` and forwards every connection
to the target. Its mode changes on command, for the connections open now and those to come:

- ``pass_through()``: bytes flow both ways;
- ``blackhole()``: new connections are accepted and nothing is forwarded or answered
  (a partition: the peer waits until its own timeout); open ones stall too;
- ``reset()``: new connections are closed at once with RST; open ones are reset;
- ``delay(seconds)``: every chunk is held ``seconds`` before it is forwarded;
- ``drop_responses(n)``: the next ``n`` requests reach the target, their answers are
  thrown away and the client's connection is reset (an outcome the client cannot know).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from types import TracebackType


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.delay_s = 0.0
        self._drop = 0
        self.connections = 0
        self.dropped_responses = 0
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    # -- commands ------------------------------------------------------------
    def pass_through(self) -> None:
        self._set("pass")

    def blackhole(self) -> None:
        self._set("blackhole")

    def reset(self) -> None:
        self._set("reset")
        self._loop.call_soon_threadsafe(self._reset_all)

    def delay(self, seconds: float) -> None:
        self.delay_s = seconds
        self._set("delay")

    def drop_responses(self, n: int) -> None:
        self._drop = n

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _set(self, mode: str) -> None:
        self.mode = mode

    # -- machinery -----------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            self._reset_all()

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0))

    @staticmethod
    def _rst(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    def _reset_all(self) -> None:
        for w in list(self._writers):
            self._rst(w)
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "reset":
            self._rst(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._rst(writer)
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pump(reader, up_writer, writer, upstream=True),
            self._pump(up_reader, writer, writer, upstream=False),
            return_exceptions=True,
        )
        for w in (writer, up_writer):
            self._writers.discard(w)
            if not w.is_closing():
                w.close()

    async def _pump(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
        *,
        upstream: bool,
    ) -> None:
        while True:
            data = await src.read(65536)
            if not data:
                if not dst.is_closing():
                    dst.close()
                return
            while self.mode == "blackhole":
                await asyncio.sleep(0.05)
            if self.mode == "reset":
                self._rst(client)
                return
            if self.mode == "delay" and self.delay_s > 0:
                await asyncio.sleep(self.delay_s)
            if not upstream and self._drop > 0:
                # The request reached the target and was handled; its answer is lost.
                self._drop -= 1
                self.dropped_responses += 1
                self._rst(client)
                return
            dst.write(data)
            await dst.drain()
