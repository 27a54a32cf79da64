"""Policy-file grammar and enforcement rules."""

from __future__ import annotations

import pytest

from hanami.server.security.policy import Policy, PolicyError

EXAMPLE = """
v1.0alpha/dataset/all
- GET: admin, member

v1.0alpha/dataset
- GET : admin,member
-DELETE:admin
"""


def test_parse_and_allow():
    policy = Policy.parse(EXAMPLE)
    assert policy.allows("v1.0alpha/dataset/all", "GET", "member")
    assert policy.allows("/v1.0alpha/dataset", "get", "member")
    assert policy.allows("v1.0alpha/dataset", "DELETE", "admin")
    assert not policy.allows("v1.0alpha/dataset", "DELETE", "member")
    assert not policy.allows("v1.0alpha/dataset", "POST", "admin")  # no method line
    assert not policy.allows("v1.0alpha/cluster", "GET", "admin")  # no block


def test_first_block_wins_and_last_method_line_wins():
    policy = Policy.parse(
        "a/b\n- GET: admin\n- GET: member\n\na/b\n- GET: admin, member\n- POST: admin\n"
    )
    assert policy.allows("a/b", "GET", "member")
    assert not policy.allows("a/b", "GET", "admin")
    assert not policy.allows("a/b", "POST", "admin")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("- GET: admin\n", 1, "before the first endpoint"),
        ("a/b\n- PATCH: admin\n", 2, "unknown method"),
        ("a/b\n- GET admin\n", 2, "expected '- METHOD: roles'"),
        ("a/b\n- GET: admin,\n", 2, "empty role"),
        ("a/b\n- GET: ad-min\n", 2, "invalid role"),
        ("a/b\n- GET: admin\na b c\n", 3, "expected an endpoint key"),
        ("a/b\n\nc/d\n- GET: admin\n", 1, "has no rules"),
        ("a/b\n- GET: admin\nc/d\n", 3, "has no rules"),
    ],
)
def test_errors_carry_line_numbers(text, line, message):
    with pytest.raises(PolicyError, match=message) as info:
        Policy.parse(text, "policies")
    assert info.value.lineno == line
    assert str(info.value).startswith(f"policies, line {line}:")


def test_default_policy_roles():
    policy = Policy.default()
    for endpoint in ("v1.0alpha/user", "v1.0alpha/project"):
        for method in ("GET", "POST", "DELETE"):
            assert policy.allows(endpoint, method, "admin")
            assert not policy.allows(endpoint, method, "member")
    assert not policy.allows("v1.0alpha/error_log", "GET", "member")
    for endpoint, method in [
        ("v1.0alpha/cluster", "POST"),
        ("v1.0alpha/task/all", "GET"),
        ("v1.0alpha/dataset/upload/mnist", "PUT"),
        ("v1.0alpha/token", "PUT"),
        ("v1.0alpha/user/project", "GET"),
        ("v1.0alpha/audit_log", "GET"),
    ]:
        assert policy.allows(endpoint, method, "member")


def test_every_protected_route_has_a_default_policy_entry(tmp_path):
    from hanami.server import ServerSettings, create_app

    app = create_app(ServerSettings(data_dir=tmp_path, token_key="k" * 32))
    policy = Policy.default()
    missing = [
        (path, method.upper())
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1.0alpha/")
        for method in operations
        if (path, method) != ("/v1.0alpha/token", "post")
        and not policy.rules.get(path.lstrip("/"), {}).get(method.upper())
    ]
    assert missing == []


def test_policy_file_is_loaded_from_settings(tmp_path):
    from hanami.server import ServerSettings, create_app

    bad = tmp_path / "policies"
    bad.write_text("v1.0alpha/user\n- FETCH: admin\n")
    with pytest.raises(PolicyError, match="line 2"):
        create_app(ServerSettings(data_dir=tmp_path, token_key="k" * 32, policies=bad))
