"""The one error export raises: what cannot be exported, naming the part."""

from __future__ import annotations


class ExportError(ValueError):
    """A model, or a part of one, that has no faithful graph (an unsupported layer or op, a
    streaming export of a model that reads the whole sequence): never a silently wrong graph."""
