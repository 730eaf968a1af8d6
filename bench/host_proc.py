"""Run the mmchat host exactly as `python mmchat.py ...` does, after raising the open-file limit.

The benchmark holds up to 5,000 members on one host, more than the usual
default of 1,024 open files, so the limit is raised to the hard limit first.
With --cprofile FILE (first argument) the host's event-loop thread runs under
cProfile and its statistics are written to FILE when the host stops; the
sampling profiler py-spy is preferred when it is installed (see profile_host.py).
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _profile_loop(path: str) -> None:
    import cProfile

    from mmchat.server import ChatServer

    run = ChatServer._run

    def profiled_run(self) -> None:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            run(self)
        finally:
            profiler.disable()
            profiler.dump_stats(path)

    ChatServer._run = profiled_run  # type: ignore[method-assign]


def main() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    argv = sys.argv[1:]
    if argv[:1] == ["--cprofile"]:
        _profile_loop(argv[1])
        argv = argv[2:]
    from mmchat.cli import main as mmchat_main

    return mmchat_main(argv)


if __name__ == "__main__":
    sys.exit(main())
