"""Run first in every notebook kernel the tests start: the same network guard as the test suite.

Any connection to a non-loopback address and any name lookup other than ``localhost`` raises at
once, so a notebook that would reach the network fails instead of passing by luck.
"""

import ipaddress
import socket

_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def _check(family: int, address: object) -> None:
    if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return
    host = str(address[0])
    if host == "localhost":
        return
    try:
        ip = ipaddress.ip_address(host.split("%", maxsplit=1)[0])
    except ValueError:
        ip = None
    if ip is None or not ip.is_loopback:
        raise OSError(f"network access blocked in notebook tests: {host}:{address[1]}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(self.family, address)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(self.family, address)
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    name = host.decode() if isinstance(host, bytes) else host
    if name not in (None, "localhost"):
        try:
            ipaddress.ip_address(str(name))
        except ValueError:
            raise OSError(f"network access blocked in notebook tests: name lookup of {name!r}") from None
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
