"""One method of a Rasa class replaced by ours, Rasa's own kept (for tests and for a fallback)."""

from __future__ import annotations

from typing import Any, Callable


class Patch:
    """`owner.name` becomes `replacement` on `install()` (idempotent), Rasa's on `uninstall()`."""

    def __init__(self, owner: type, name: str, replacement: Callable[..., Any]):
        self.owner, self.name, self.replacement = owner, name, replacement
        # As the class holds it (a staticmethod stays one), inherited ones as looked up.
        self.original: Callable[..., Any] = owner.__dict__.get(name, getattr(owner, name))

    def install(self) -> None:
        setattr(self.owner, self.name, self.replacement)

    def uninstall(self) -> None:
        setattr(self.owner, self.name, self.original)
