"""A bounded memo of :func:`sv_otel.attributes.attribute_key`, the hot lookup of the encoders."""

from __future__ import annotations

from sv_otel.attributes import attribute_key

__all__ = ["attribute_keys"]

_LIMIT = 65_536


class _AttributeKeys(dict[str, str]):
    """``keys[property]`` is the attribute key of ``property``; computed once, then looked up."""

    def __missing__(self, key: str) -> str:
        if len(self) >= _LIMIT:
            self.clear()
        value = self[key] = attribute_key(key)
        return value


_KEYS = _AttributeKeys()


def attribute_keys() -> dict[str, str]:
    """Return the shared memo (a dict: indexing a new key computes and stores it)."""
    return _KEYS
