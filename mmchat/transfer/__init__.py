"""Moving file bytes over a transfer connection, for both the host and members.

How this works
--------------
A transfer connection opens with frames (TransferHello, TransferStart) and
then carries the file's raw bytes.  Sending uses `socket.sendfile` (zero-copy
where the OS has it); receiving uses `recv_into` on a few reused buffers and
lands the file under its final name only once size and SHA-256 match.

SHA-256 is the costly part of moving a file on loopback (about as many
CPU-seconds per GiB as the copy itself on the benchmark machine), so it runs
on a thread of its own on both sides.  The modules, one job each:

* `frames`: what both ends share: `read_frame` for the opening frames,
  `TransferError` (its str() is a sentence for a person) and `TransferStalled`
  (no byte moved for the socket's time-out), `IDLE_TIMEOUT`.
* `sending`: `send_file_body` and `FileHasher`, the digest read beside it.
* `receiving`: `receive_file_body` (recv, hash and write on three threads).
* `landing`: `receive_to_folder` (temporary name, verify, rename; or go on
  from a partial file that a try cut short left, see mmchat/resume.py).
"""

from .frames import IDLE_TIMEOUT, Progress, TransferError, TransferStalled, read_frame
from .landing import TransferDamaged, receive_to_folder
from .receiving import PROGRESS_STEP, RECV_CHUNK, receive_file_body
from .sending import HASH_CHUNK, SEND_CHUNK, FileHasher, send_file_body

__all__ = [
    "HASH_CHUNK",
    "IDLE_TIMEOUT",
    "PROGRESS_STEP",
    "RECV_CHUNK",
    "SEND_CHUNK",
    "FileHasher",
    "Progress",
    "TransferDamaged",
    "TransferError",
    "TransferStalled",
    "read_frame",
    "receive_file_body",
    "receive_to_folder",
    "send_file_body",
]
