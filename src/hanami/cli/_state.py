"""The global options, shared with every command, and the SDK client built from them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import typer

from hanami.cli._errors import CliError
from hanami.cli._session import TokenCache, load_login, save_login
from hanami.sdk import DEFAULT_ADDRESS, HanamiClient, NotLoggedIn

__all__ = ["State", "state_of"]


@dataclass
class State:
    """Global options (``ctx.obj`` of the root command) and the client built from them."""

    address: str | None = None
    user: str | None = None
    passphrase: str | None = None
    token: str | None = None
    insecure: bool = False
    json: bool = False
    timeout: float = 60.0
    uses_saved_login: bool = False
    cache_tokens: bool = True
    """Whether new tokens of environment credentials go to the token cache (a project
    switch is not cached: the next command works in the login's project, as before)."""
    _client: HanamiClient | None = field(default=None, repr=False)
    _cached: TokenCache | None = field(default=None, repr=False)

    def resolved_address(self) -> str:
        if self.address:
            return self.address
        saved = load_login()
        if saved and isinstance(saved.get("address"), str):
            return saved["address"]
        return DEFAULT_ADDRESS

    def client(self, ctx: typer.Context | None = None) -> HanamiClient:
        """The SDK client, from (in order) a token, user + passphrase, or the saved login."""
        if self._client is None:
            self._client = self._new_client()
            if ctx is not None:
                ctx.call_on_close(self._client.close)
        return self._client

    def _new_client(self) -> HanamiClient:
        address = self.resolved_address()
        common: dict[str, Any] = {"timeout": self.timeout, "verify": not self.insecure}
        if self.token:
            return HanamiClient(address, token=self.token, **common)
        if self.user or self.passphrase:
            if not (self.user and self.passphrase):
                missing = "HANAMI_PASSPHRASE" if self.user else "HANAMI_USER"
                raise CliError(f"{missing} (or its option) is missing; give user and passphrase")
            return self._credentials_client(address, self.user, self.passphrase, common)
        saved = load_login()
        if not saved or saved.get("address", "").rstrip("/") != address.rstrip("/"):
            raise NotLoggedIn(f"no saved login for {address}")
        expires = saved.get("expires_at")
        if isinstance(expires, int | float) and expires <= time.time():
            raise CliError(f"the saved login for {address} has expired: run 'hanami login'")
        user = saved.get("user")
        self.uses_saved_login = True
        return HanamiClient(
            address,
            token=saved["token"],
            renew_margin=600.0,
            on_token=lambda token: save_login(address, user, token),
            **common,
        )

    def _credentials_client(
        self, address: str, user: str, passphrase: str, common: dict[str, Any]
    ) -> HanamiClient:
        """Start from the cached token of ``user`` (no login), keep every new one."""
        cache = TokenCache(address)
        cached = cache.load(user)
        if cached is not None:
            self._cached = cache

        def keep(token: str) -> None:
            if self.cache_tokens:
                cache.store(user, token)

        return HanamiClient(
            address, user=user, passphrase=passphrase, token=cached, on_token=keep, **common
        )

    def forget_cached_token(self) -> bool:
        """After a refused request: drop the cached token it used; ``True`` if there was one
        (then the command may run once more, logging in afresh)."""
        if self._cached is None or self.user is None:
            return False
        self._cached.forget(self.user)
        self._cached = None
        return True


def state_of(ctx: typer.Context, json_output: bool = False) -> State:
    """The root state; ``--json`` on a command sets JSON output as the global flag does."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    state: State = root.obj
    state.json = state.json or json_output
    return state
