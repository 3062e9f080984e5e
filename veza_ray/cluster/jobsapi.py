"""Ray's job SDK with every answer read under a cap and a deadline (see veza_ray.readcap).

The SDK reads each answer of the Jobs API whole (``requests``, no timeout) and follows
the log websocket until the server closes it. A head that answers without end, a byte a
second, or never finishes a chunked body would hold `submit` for ever or take its
memory. Here every request of the SDK goes through ``bounded_request`` (the answer read
with ``read_capped``, the whole exchange within a deadline), and the live log is read
message by message, each at most ``readcap.API_ANSWER_CAP``, and given up when the job
has ended and the socket stays silent. Imported only by `submit`, which needs Ray.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import requests
import urllib3
from ray.job_submission import JobSubmissionClient

from veza_ray.readcap import (
    API_ANSWER_CAP,
    JOB_LOG_CAP,
    call_within,
    read_capped,
    socket_timeout_setter,
)

API_DEADLINE_S = 30.0  # one Jobs API call, head and body
LOG_DEADLINE_S = 120.0  # the whole job log, which may be large
UPLOAD_DEADLINE_S = 600.0  # the working_dir package sent to the head
TAIL_IDLE_S = 5.0  # a silent log socket: check whether the job has ended


def limits(method: str, endpoint: str) -> tuple[int, float, str]:
    """The cap, the deadline and a name for the answer to one Jobs API request."""
    path = endpoint.split("?", 1)[0]
    if path.endswith("/logs"):
        return JOB_LOG_CAP, LOG_DEADLINE_S, "the job's log"
    if method == "PUT" and path.startswith("/api/packages/"):
        return API_ANSWER_CAP, UPLOAD_DEADLINE_S, "the package upload's answer"
    return API_ANSWER_CAP, API_DEADLINE_S, f"the answer to {method} {path}"


def bounded_request(
    method: str, url: str, cap: int, seconds: float, what: str, **kwargs: Any
) -> requests.Response:
    """``requests.request`` whose answer is read to at most ``cap`` bytes and whose whole
    exchange ends within ``seconds`` (ReadLimit past either); the body is then in
    ``.content`` as the SDK expects."""
    deadline = time.monotonic() + seconds

    def exchange() -> requests.Response:
        kwargs["timeout"] = (seconds, seconds)
        resp = requests.request(method, url, stream=True, **kwargs)
        raw = resp.raw

        def read1(n: int) -> bytes:
            try:
                chunk: bytes = raw.read1(n, decode_content=True)
            except urllib3.exceptions.ReadTimeoutError as exc:  # the socket's wait ran out
                raise TimeoutError(str(exc)) from exc
            return chunk

        with resp:
            body = read_capped(
                read1,
                cap,
                deadline,
                what,
                socket_timeout_setter(raw),
            )
        resp._content = body
        resp._content_consumed = True
        return resp

    return call_within(exchange, seconds + 1.0, what)


AUTH_STATUSES = (401, 403)


class JobsAuthError(RuntimeError):
    """The Jobs API refused a request as unauthenticated or forbidden (``status`` 401 or
    403, as Ray's token auth answers): a type of its own, so `submit` can say what to set
    without reading the text of an exception."""

    def __init__(self, status: int, method: str, path: str) -> None:
        self.status = status
        super().__init__(f"{method} {path} answered {status} (authentication failed)")


class BoundedJobClient(JobSubmissionClient):  # type: ignore[misc]
    """The SDK's client with bounded reads (``_do_request`` is the one place it reads)."""

    def _do_request(
        self,
        method: str,
        endpoint: str,
        *,
        data: bytes | None = None,
        json_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        cap, seconds, what = limits(method, endpoint)
        kwargs.pop("timeout", None)
        kwargs.pop("stream", None)
        resp = bounded_request(
            method,
            self._address + endpoint,
            cap,
            seconds,
            what,
            cookies=self._cookies,
            data=data,
            json=json_data,
            headers=self._headers,
            verify=self._verify,
            **kwargs,
        )
        if resp.status_code in AUTH_STATUSES:  # the SDK's own check is in the method replaced
            raise JobsAuthError(resp.status_code, method, endpoint.split("?", 1)[0])
        return resp

    async def tail_job_logs(self, job_id: str) -> AsyncIterator[str]:
        """The job's log as it grows: each message at most API_ANSWER_CAP bytes; a silent
        socket is left once the job has ended."""
        path = f"/api/jobs/{job_id}/logs/tail"
        async with aiohttp.ClientSession(cookies=self._cookies, headers=self._headers) as s:
            try:
                ws = await s.ws_connect(
                    self._address + path,
                    headers=self._headers,
                    ssl=True if self._ssl_context is None else self._ssl_context,
                    max_msg_size=API_ANSWER_CAP,
                    timeout=aiohttp.ClientWSTimeout(ws_close=API_DEADLINE_S),
                )
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in AUTH_STATUSES:
                    raise JobsAuthError(exc.status, "GET", path) from None
                raise
            async with ws:
                while True:
                    try:
                        msg = await ws.receive(timeout=TAIL_IDLE_S)
                    except asyncio.TimeoutError:
                        info = await asyncio.to_thread(self.get_job_info, job_id)
                        if info.status.is_terminal():
                            return
                        continue
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        yield msg.data
                    elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        return
                    elif msg.type == aiohttp.WSMsgType.ERROR:
                        raise RuntimeError(f"the live log failed: {ws.exception()}")
