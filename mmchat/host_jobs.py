"""The host's slow requests, run off the loop: `!cmd` lines, the shared-file list, QR pictures.

The room decides *what* to run (a `Job`, with the member's folder as it is
then); a worker does it here and hands the result back to the loop thread
with `call_soon`, where the room gets the last word.  WORKERS threads: the
room hands jobs out fairly (members in turn, one job per member at a time,
never more than its MAX_RUNNING_JOBS out), so the pool's own queue stays short
and a dropped member's waiting work is never started.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import protocol
from .actions import CommandJob, FileListJob, Job
from .commands import CommandOutcome, CommandSandbox
from .protocol import FileList, QRImage, SharedFile
from .qr import render_png
from .storage import Storage

WORKERS = 2  # room_requests.MAX_RUNNING_JOBS: one slow `ls` leaves a worker for everyone else
JobResult = bytes | CommandOutcome  # a frame to send, or a command's outcome for the room


class Workers:
    """Runs jobs on a worker thread and reports each result (or failure) back to the loop."""

    def __init__(
        self,
        share: Path,
        sandbox: CommandSandbox,
        storage: Storage,
        call_soon: Callable[[Callable[[], None]], None],
        done: Callable[[Job, JobResult], None],
        failed: Callable[[Job, str], None],
    ) -> None:
        self.share = share
        self.sandbox = sandbox
        self.storage = storage
        self._call_soon = call_soon
        self._done = done  # both called on the loop thread
        self._failed = failed
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mmchat-worker")

    def submit(self, job: Job) -> None:
        """Do `job` on the worker; its result reaches `done` (or `failed`) on the loop thread."""

        def run() -> None:
            try:
                result = self.do(job)
            except Exception as exc:  # the member gets a sentence, the host keeps going
                reason = str(exc) or repr(exc)
                self._call_soon(lambda: self._failed(job, reason))
                return
            self._call_soon(lambda: self._done(job, result))

        try:
            self._pool.submit(run)
        except RuntimeError:
            pass  # shutting down

    def do(self, job: Job) -> JobResult:
        """The slow part of a request (on the worker thread)."""
        if isinstance(job, CommandJob):
            return self.sandbox.run(job.line, job.cwd)
        if isinstance(job, FileListJob):
            shared = tuple(
                SharedFile(r.filename, r.size, r.owner, r.ts)
                for r in self.storage.list_files()
                if (self.share / r.filename).is_file()
            )
            return protocol.encode_trusted(FileList(files=shared[-protocol.MAX_FILE_LIST_ITEMS :], ref=job.ref))
        png = render_png(job.code)
        return protocol.encode_trusted(QRImage(code=job.code, expires_in=job.expires_in, png=png, ref=job.ref))

    def shutdown(self) -> None:
        """Finish the running job, drop the queued ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)
