"""Run model-written Python in a sandbox, with sessions that keep variables between calls.

``make_sandbox()`` picks the backend: bubblewrap (default), gVisor (``runsc``), or, only when asked
for by name, an unsafe plain subprocess. With ``backend="auto"`` and no usable sandbox it fails
closed with :class:`~tools.errors.SandboxUnavailable`; it never falls back to running code unconfined.
"""

from __future__ import annotations

from typing import Literal

from tools.code_runner.base import CodeSandbox, ExitReason, Limits, RunResult
from tools.code_runner.bwrap import INSTALL_HINT, BwrapSandbox, bwrap_usable
from tools.code_runner.gvisor import GVisorSandbox, gvisor_usable
from tools.code_runner.local_unsafe import UnsafeSubprocessSandbox
from tools.code_runner.session import PooledSandbox, SessionPool
from tools.errors import SandboxUnavailable

__all__ = [
    "Backend",
    "BwrapSandbox",
    "CodeSandbox",
    "ExitReason",
    "GVisorSandbox",
    "Limits",
    "PooledSandbox",
    "RunResult",
    "SessionPool",
    "UnsafeSubprocessSandbox",
    "make_sandbox",
]

Backend = Literal["auto", "bwrap", "gvisor", "unsafe-subprocess"]


def make_sandbox(
    backend: Backend = "auto", limits: Limits | None = None, max_sessions: int = 16
) -> CodeSandbox:
    """Create a sandbox.

    Args:
        backend: ``"auto"`` (bwrap if usable, else gVisor, else fail), a backend by name, or
            ``"unsafe-subprocess"`` (no isolation; warns).
        limits: resource limits; :class:`Limits` defaults when omitted.
        max_sessions: sessions kept warm at once.

    Raises:
        SandboxUnavailable: the requested backend (or, for ``auto``, every backend) cannot run here.
    """
    if backend == "unsafe-subprocess":
        return UnsafeSubprocessSandbox(limits, max_sessions)
    reasons: list[str] = []
    if backend in ("auto", "bwrap"):
        reason = bwrap_usable()
        if reason is None:
            return BwrapSandbox(limits, max_sessions)
        reasons.append(reason)
    if backend in ("auto", "gvisor"):
        reason = gvisor_usable()
        if reason is None:
            return GVisorSandbox(limits, max_sessions)
        reasons.append(reason)
    if not reasons:
        raise SandboxUnavailable(
            f"unknown sandbox backend {backend!r}: use auto, bwrap, gvisor or unsafe-subprocess"
        )
    if backend != "auto":
        raise SandboxUnavailable(reasons[0])
    raise SandboxUnavailable(
        "no code sandbox is available, so model-written code will not run (" + "; ".join(reasons) + "). "
        f"To fix: {INSTALL_HINT}. Running code unconfined needs an explicit "
        'make_sandbox("unsafe-subprocess").'
    )
