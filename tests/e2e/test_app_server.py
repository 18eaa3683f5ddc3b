"""The browser tests' server is `ipmarket serve` as a user runs it, and its helpers work."""

from __future__ import annotations

from tests.e2e.server import (
    Api,
    AppServer,
    approve_ip_asset,
    emailed_link,
    make_admin,
    new_person,
    register_through_api,
)


def test_links_in_emails_point_at_the_port_the_server_runs_on(app_server: AppServer) -> None:
    # given a server on a free port and no PUBLIC_BASE_URL
    assert app_server.port != 8000
    person = new_person("ada")
    # when someone registers
    Api(app_server).post(
        "/auth/register",
        {
            "username": person.username,
            "email": person.email,
            "password": person.password,
            "userType": "creator",
        },
    )
    # then the verification link of the email leads to this server
    link = emailed_link(app_server, person.email, "verify-email")
    assert link.startswith(f"{app_server.url}/")


def test_an_admin_from_the_cli_approves_an_asset_through_the_api(app_server: AppServer) -> None:
    # given a verified creator who submits an asset for review
    _, creator = register_through_api(app_server, "creator")
    assert creator.get("/users/me")["emailVerified"] is True
    asset = creator.post(
        "/ip-assets",
        {
            "title": "Moonlit Fox",
            "description": "A fox who walks at night",
            "category": "characters",
            "contentType": "image",
        },
    )
    creator.post(f"/ip-assets/{asset['id']}/verify")
    # when an administrator made with `ipmarket create-admin` approves it
    _, admin = make_admin(app_server)
    decided = approve_ip_asset(admin, asset["id"])
    # then it is approved
    assert decided["verificationStatus"] == "approved"
