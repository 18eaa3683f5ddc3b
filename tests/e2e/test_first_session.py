"""The README's first session against a running server: register, verify the email from the
mail the server's own relay wrote, log in, and an operator creates an admin from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ipmarket.config import Settings
from tests.support import STRONG_PASSWORD, body_of, token_in, unique


def _wait_for_mail(directory: Path, recipient: str, timeout: float = 15.0) -> str:
    import email

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if directory.exists():
            for path in directory.iterdir():
                message = email.message_from_bytes(path.read_bytes())
                if message["To"] == recipient:
                    return token_in(message) if "verify-email" in body_of(message) else ""
        time.sleep(0.1)
    raise AssertionError(f"no email to {recipient} within {timeout}s")


def test_register_verify_login_and_create_admin(
    live_server: str, live_settings: Settings, database_url: str
) -> None:
    name = unique("ada")
    address = f"{name}@example.com"
    with httpx.Client(base_url=live_server) as http:
        registered = http.post(
            "/v1/auth/register",
            json={
                "username": name,
                "email": address,
                "password": STRONG_PASSWORD,
                "userType": "creator",
            },
        )
        assert registered.status_code == 201, registered.text
        token = _wait_for_mail(Path(live_settings.var_dir) / "mail", address)
        verified = http.get(f"/v1/auth/verify-email/{token}")
        assert verified.status_code == 200
        assert verified.json()["data"]["emailVerified"] is True
        logged_in = http.post(
            "/v1/auth/login", json={"email": address, "password": STRONG_PASSWORD}
        )
        assert logged_in.status_code == 200
        me = http.get(
            "/v1/users/me", headers={"Authorization": f"Bearer {logged_in.json()['data']['token']}"}
        )
        assert me.json()["data"]["emailVerified"] is True

        admin = unique("root")
        env = {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": str(live_settings.var_dir)}
        created = subprocess.run(
            [
                str(Path(sys.executable).parent / "ipmarket"),
                "create-admin",
                "--username",
                admin,
                "--email",
                f"{admin}@example.com",
                "--password",
                "Granite-Orchard-81!",
                "--level",
                "super_admin",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        admin_login = http.post(
            "/v1/auth/login",
            json={"email": f"{admin}@example.com", "password": "Granite-Orchard-81!"},
        )
        assert admin_login.status_code == 200
        admin_headers = {"Authorization": f"Bearer {admin_login.json()['data']['token']}"}
        users = http.get("/v1/admin/users", headers=admin_headers, params={"search": name})
        assert [u["username"] for u in users.json()["data"]] == [name]
