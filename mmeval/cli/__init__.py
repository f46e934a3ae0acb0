"""The `mmeval` command line. Subcommands live in their own modules (see COMMANDS).

Each subcommand module has `add_arguments(parser)` and `main(args) -> int` and keeps its
heavy imports inside `main`, so `mmeval --help` stays fast. Every failure is one line on
stderr starting with `error:` and an exit code from the design contract:
0 ok/pass, 1 evaluation failed or blocked, 2 usage/config/input, 3 access denied, 4 integrity.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__

# name -> (module, one-line help). Adding a command = one line here + its module.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("mmeval.cli.run", "run a suite and write a report"),
    "validate": ("mmeval.cli.validate", "load and check a suite, its data and plugins without running a model"),
    "list": ("mmeval.cli.list_plugins", "list registered metrics, models and gates"),
    "verify": ("mmeval.cli.verify", "check a run's signature and every file it covers"),
    "compare": ("mmeval.cli.compare", "compare two runs per metric with paired bootstrap intervals"),
    "signoff": ("mmeval.cli.signoff", "approve a passing, verified run with a signed attestation"),
    "export": ("mmeval.cli.export", "export a run's results (e.g. Hugging Face model-index YAML)"),
    "pii": ("mmeval.cli.pii", "scan text or JSONL for personal data, or write a redacted copy"),
    "keys": ("mmeval.cli.keys", "create, rotate or list the key ring of the encrypted store"),
    "store": ("mmeval.cli.store", "list or decrypt records of a run's encrypted store"),
    "log": ("mmeval.cli.log", "verify or show the tamper-evident audit log"),
    "watermark": ("mmeval.cli.watermark", "embed or detect keyed watermarks in text, images and audio"),
    "provenance": ("mmeval.cli.provenance", "verify artifacts against their signed provenance manifests"),
    "review": ("mmeval.cli.review", "rate a run's outputs in a local page, or fold the ratings into its report"),
    "audit": ("mmeval.cli.audit", "audit a folder of generated content: marks, manifests, PII"),
}


# Every environment variable mmeval reads; `mmeval --help` lists them (keep in step with
# `grep -rhoE 'MMEVAL_[A-Z_]+' mmeval`).
ENVIRONMENT = """\
environment variables:
  MMEVAL_HOME           per-user state: signing key, key ring, audit pin, cache secret
                        (default ~/.config/mmeval)
  MMEVAL_SIGNING_KEY    Ed25519 private key (PEM) that signs runs and sign-offs
                        (default: a per-user key under MMEVAL_HOME)
  MMEVAL_KEYRING        key ring file (default MMEVAL_HOME/keyring.json); set, `run`
                        seals raw outputs into the encrypted store
  MMEVAL_POLICY         extra access policy YAML (adds restrictions only), like --policy
  MMEVAL_PRINCIPAL      act as this principal, like --principal (only where policy allows)
  MMEVAL_AUDIT_LOG      audit log file (default .mmeval/audit.log)
  MMEVAL_CACHE_DIR      output and statistics cache folder (default .mmeval-cache); off: none
  MMEVAL_THREADS        torch and BLAS threads for `run`, like --threads
  MMEVAL_WEIGHTS_DIR    folder with metric weights (Inception for FID); nothing is downloaded
  MMEVAL_PSEUDONYM_KEY  hex key for `pii redact` pseudonyms, like --key-file
  MMEVAL_DEBUG          set by --debug so every torchrun rank shows its traceback
  MMEVAL_DEVICE         device models and metrics run on (cpu, cuda, cuda:N), like --device
  GITHUB_STEP_SUMMARY   set by GitHub Actions: `run` appends report.md to the job page
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as the contract says
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    # --debug works before or after the command; SUPPRESS keeps a subcommand from resetting it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    parser = _Parser(prog="mmeval", description="Evaluate and govern multimodal generative models.", parents=[common],
                     epilog=ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"mmeval {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        importlib.import_module(module).add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.command:
        build_parser().print_help()
        return 2
    from ..errors import MmevalError

    args.debug = getattr(args, "debug", False)
    if args.debug:  # for code that cannot see args (a rank's traceback, distributed.py)
        os.environ["MMEVAL_DEBUG"] = "1"
    _terminate_like_interrupt()
    try:
        code = int(importlib.import_module(args._module).main(args))
        _flush_stdout()  # here, not at exit: a closed pipe or a full disk is then reported below
        return code
    except MmevalError as exc:
        if args.debug:
            raise
        if not getattr(exc, "quiet", False):  # a rank other than 0 of a failed run: rank 0 says why
            sys.stderr.write(f"error: {_one_line(str(exc))}\n")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        sys.stderr.write(f"error: {_interrupted(exc)}\n")
        return 130
    except BrokenPipeError:  # `mmeval ... | head`: the reader has all it wanted
        if args.debug:
            raise
        _discard_stdout()
        return 141  # 128 + SIGPIPE, what shells report for coreutils in the same spot
    except OSError as exc:  # disk full, permissions, ...: the user's to fix, not a bug
        if args.debug:
            raise
        sys.stderr.write(f"error: {_one_line(_os_error(exc))}\n")
        return 2
    except Exception as exc:  # a bug: still one line, but say how to see more
        if args.debug:
            raise
        sys.stderr.write(f"error: internal error ({type(exc).__name__}: {_one_line(str(exc))}); rerun with --debug\n")
        return 2


class Terminated(KeyboardInterrupt):
    """SIGTERM, unwinding like Ctrl-C."""


def _interrupted(exc: KeyboardInterrupt) -> str:
    rank = os.environ.get("RANK") if os.environ.get("WORLD_SIZE", "1") not in ("", "1") else None
    if isinstance(exc, Terminated) and rank is not None:  # torchrun ends every rank when one fails
        return f"rank {rank}: stopped by torchrun because another rank failed (torchrun's summary names it); no report was written"
    return "interrupted"


def _terminate_like_interrupt() -> None:
    """SIGTERM (CI cancelling a job, `kill`) unwinds like Ctrl-C, so partial output folders
    and plaintext are cleaned up on the way out (staging.py) instead of left behind."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise Terminated

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupt)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        exc.filename = exc.filename or "<stdout>"
        _discard_stdout()
        raise


def _discard_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's own flush at exit fails no more
    (the recipe in Python's `signal` docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout without a file descriptor (captured)
        pass


def _os_error(exc: OSError) -> str:
    """One line for an OSError: what went wrong and the file it happened to."""
    import errno

    where = exc.filename
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "disk full" if exc.errno == errno.ENOSPC else "disk quota exceeded"
        return f"{what} writing {where}" if where is not None else f"{what} ({exc.strerror})"
    text = exc.strerror or _one_line(str(exc)) or type(exc).__name__
    if where is not None:
        text += f": {where}" + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())
