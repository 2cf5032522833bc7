"""Emulator profiles: which VM's quirks to reproduce.

The emulator follows sqUnixSocket.c. Where a particular VM build behaves
differently from that source (an older file, a compiler's choice, a libc's), a
profile named for that VM turns the difference on, so that under the profile the
conformance table against the real VM has no differences. ``docs/quirks.md``
says what each flag is, where in the C code it comes from, and how it was found.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    # sqResolverGetAddressInfo...: ``stat(servName) && (st_mode & S_IFSOCK)`` is a
    # bit test, not a type test: S_IFSOCK (0140000) shares bits with S_IFREG
    # (0100000) and S_IFDIR (0040000), so regular files and directories pass too.
    local_lookup_mode_bit_test: bool = True
    # sqResolverLocalAddress: True = getifaddrs() and the first INET address of
    # eth0/wlan0 (0 when there is none); False = gethostbyname(gethostname()).
    local_address_from_interfaces: bool = True

    def flags(self) -> dict[str, object]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in {"name", "description"}
        }


SQUEAK_4_10 = Profile(
    name="squeak-4.10",
    description="Debian's squeak-vm 1:4.10.2.2614+20120917 (SocketPlugin 30 July 2012)",
)

# What sqUnixSocket.c means rather than what it does: a socket path must be a socket.
STRICT = Profile(
    name="strict",
    description="sqUnixSocket.c with its accidental behaviours fixed (no VM behaves so)",
    local_lookup_mode_bit_test=False,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SQUEAK_4_10, STRICT)}
DEFAULT_PROFILE = SQUEAK_4_10


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
