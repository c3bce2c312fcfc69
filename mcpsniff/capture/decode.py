"""Content-Encoding decoding, whole or incremental (pure; the forwarded bytes are never touched).

:class:`StreamDecoder` decodes a possibly stacked encoding (``gzip, br``) chunk by
chunk for the SSE tap; :func:`decode_content` decodes a whole body.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, Iterable


class _Identity:
    def feed(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Gzip:
    def __init__(self) -> None:
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        out = self._d.decompress(data)
        # concatenated gzip members: start again on what is left
        while self._d.eof and self._d.unused_data:
            rest = self._d.unused_data
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._d.decompress(rest)
        return out

    def flush(self) -> bytes:
        return self._d.flush()


class _Deflate:
    """zlib-wrapped deflate, falling back to raw deflate (servers send both)."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(zlib.MAX_WBITS)
        self._started = False
        self._seen = b""

    def feed(self, data: bytes) -> bytes:
        if self._started:
            return self._d.decompress(data)
        self._seen += data
        try:
            out = self._d.decompress(data)
        except zlib.error:
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._d.decompress(self._seen)
        if out:
            self._started, self._seen = True, b""
        return out

    def flush(self) -> bytes:
        return self._d.flush()


class _Brotli:
    def __init__(self) -> None:
        import brotli

        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> bytes:
        return self._d.process(data) if data else b""

    def flush(self) -> bytes:
        return b""


class _Zstd:
    def __init__(self) -> None:
        self._new = _zstd_factory()
        self._d = self._new()

    def feed(self, data: bytes) -> bytes:
        out = self._d.decompress(data) if data else b""
        # a finished frame followed by another (stdlib / backports API)
        while getattr(self._d, "eof", False) and getattr(self._d, "unused_data", b""):
            rest = self._d.unused_data
            self._d = self._new()
            out += self._d.decompress(rest)
        return out

    def flush(self) -> bytes:
        return b""


def _zstd_factory() -> Callable[[], Any]:
    for mod in ("compression.zstd", "backports.zstd"):
        try:
            m = __import__(mod, fromlist=["ZstdDecompressor"])
            return m.ZstdDecompressor
        except ImportError:
            continue
    import zstandard  # mitmproxy 11 depends on it

    return lambda: zstandard.ZstdDecompressor().decompressobj()


_DECODERS: dict[str, Callable[[], Any]] = {
    "identity": _Identity,
    "gzip": _Gzip,
    "x-gzip": _Gzip,
    "deflate": _Deflate,
    "br": _Brotli,
    "zstd": _Zstd,
}


def content_encoding(headers: Iterable[tuple[str, str]] | Any) -> str | None:
    """The Content-Encoding value (lower case), ``None`` for none or identity."""
    for name, value in headers:
        if name.lower() == "content-encoding":
            v = value.strip().lower()
            return v if v and v != "identity" else None
    return None


class StreamDecoder:
    """Incremental decoder for a (possibly stacked, ``gzip, br``) Content-Encoding."""

    def __init__(self, encoding: str | None) -> None:
        if not encoding:  # no Content-Encoding (the common case): nothing to decode
            self._chain: list[Any] = []
            return
        names = [e.strip() for e in encoding.lower().split(",") if e.strip()]
        unknown = [n for n in names if n not in _DECODERS]
        if unknown:
            raise ValueError(f"unsupported Content-Encoding {', '.join(unknown)}")
        # applied in reverse order of the header's list
        self._chain = [_DECODERS[n]() for n in reversed(names)]

    def feed(self, data: bytes) -> bytes:
        for d in self._chain:
            data = d.feed(data)
        return data

    def flush(self) -> bytes:
        out = b""
        for i, d in enumerate(self._chain):
            out = d.feed(out) if i else b""
            out += d.flush()
        return out


def decode_content(raw: bytes, encoding: str | None) -> bytes:
    """Decode a whole body; ValueError when it cannot be decoded."""
    try:
        dec = StreamDecoder(encoding)
        return dec.feed(raw) + dec.flush()
    except ValueError:
        raise
    except Exception as e:  # zlib.error, brotli.error, zstd errors ...
        raise ValueError(f"cannot decode {encoding} body: {e}") from e
