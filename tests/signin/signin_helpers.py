"""Helpers of the sign-in tests: two seeded tenants, a tenant the admin user is not in, the
user step of the device code flow and a stand-in browser (importable as `signin_helpers`)."""

from __future__ import annotations

import html.parser
import threading
import webbrowser
from typing import Any

import jwt
import requests

from provision.emulator import Emulator, SeedTenant
from provision.emulator.identity.users import ADMIN_USER

HOME = SeedTenant(
    tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
    subscription_id="3a9d0c4e-5f61-4b7a-8c2d-9e0f1a2b3c4d",
    resource_group="rg-soc",
    workspace="ws-soc",
    key_vault="kv-soc-team",
)
GUEST = SeedTenant(
    tenant_id="0d2b7c64-91e3-4a8f-b1d5-6e2f3a4b5c6d",
    subscription_id="5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
    resource_group="rg-other",
    workspace="ws-other",
    key_vault="kv-other-team",
)
# A tenant the emulator's authority knows but the admin user was never invited to.
STRANGER_TENANT = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
ARM_SCOPE = "https://management.azure.com/.default"
VAULT_SCOPE = "https://vault.azure.net/.default"


def claims(token: str) -> dict[str, Any]:
    """A token's claims, read without checking its signature (what the emulator put in it)."""
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def add_stranger_tenant(emu: Emulator) -> str:
    with emu.backend.lock:
        emu.backend.identity.add_tenant(STRANGER_TENANT)
    return STRANGER_TENANT


def enter_device_code(emu: Emulator, verification_uri: str, user_code: str) -> None:
    """The user step: open the verification page and enter the code, signed in as the admin."""
    response = requests.post(
        verification_uri,
        data={"otc": user_code, "login": ADMIN_USER},
        verify=str(emu.ca_cert),
        timeout=10,
    )
    response.raise_for_status()


class _Forms(html.parser.HTMLParser):
    """The first form of a page: its action and its hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a.get("name", "")] = a.get("value", "")


class StandInBrowser(webbrowser.BaseBrowser):
    """What a user's browser does with azure-identity's sign-in URL: show Entra's sign-in page,
    sign in as `login`, and post the answer (response_mode=form_post) to the credential's local
    redirect server. Runs in a thread: the credential serves its redirect only after open()."""

    def __init__(self, emu: Emulator, login: str = ADMIN_USER) -> None:
        super().__init__("msticpy-provision-stand-in")
        self.emu = emu
        self.login = login
        self.opened: list[str] = []
        self.errors: list[BaseException] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.opened.append(url)
        threading.Thread(target=self._sign_in, args=(url,), daemon=True).start()
        return True

    def _sign_in(self, url: str) -> None:
        try:
            verify = str(self.emu.ca_cert)
            page = requests.get(url, verify=verify, timeout=10)
            page.raise_for_status()
            form = _Forms()
            form.feed(page.text)
            assert form.action is not None
            action = requests.compat.urljoin(url, form.action)
            answer = requests.post(action, data={"login": self.login}, verify=verify, timeout=10)
            answer.raise_for_status()
            redirect = _Forms()
            redirect.feed(answer.text)
            assert redirect.action, "no form_post answer"
            requests.post(redirect.action, data=redirect.fields, timeout=10)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)


def use_browser(browser: webbrowser.BaseBrowser) -> Any:
    """Make `browser` the one webbrowser.open() uses (first in its try order)."""
    webbrowser.register(browser.name, None, browser, preferred=True)
    return browser


def forget_browser(browser: webbrowser.BaseBrowser) -> None:
    order = webbrowser._tryorder  # the registry has no unregister
    if order is not None and browser.name in order:
        order.remove(browser.name)
