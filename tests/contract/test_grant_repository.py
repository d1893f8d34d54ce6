"""The grants (authorisations) repository's contract, run against the DynamoDB repository (moto table) and its
in-memory twin (the chalice todo-app tests/test_db.py pattern, as tests/contract/test_repositories.py)."""
from __future__ import annotations

import pytest

from chalicelib.adapters.repositories.grants import DynamoGrantRepository, GrantExists, InMemoryGrantRepository
from chalicelib.domain.grant import Grant, scopes_by_grantor

AT = "2021-04-15T10:00:00+08:00"


def a_grant(authorization_id: str = "A1", grantor: str = "h-grandma", phone: str = "13800138000",
            scopes: tuple[str, ...] = ("view", "claims"), **changes) -> Grant:
    return Grant(authorization_id=authorization_id, grantor_hash=grantor, grantor_account_id="acct-grandma",
                 grantee_phone=phone, scopes=list(scopes), created_at=AT, **changes)


class GrantRepositoryContract:
    """What every grants repository does; subclasses provide `repo` and `person` (stores a grantor's name)."""

    def test_a_grant_reads_back_as_it_was_added(self, repo):
        grant = a_grant()
        repo.add(grant)
        assert repo.get("A1") == grant
        assert repo.get("A-NOPE") is None

    def test_an_authorisation_id_is_added_once(self, repo):
        repo.add(a_grant())
        with pytest.raises(GrantExists):
            repo.add(a_grant(phone="13900139000"))
        assert repo.get("A1").grantee_phone == "13800138000"

    def test_a_phone_holds_only_its_active_grants_from_anyone(self, repo):
        repo.add(a_grant("A1", grantor="h-grandma"))
        repo.add(a_grant("A2", grantor="h-grandpa", scopes=("view",)))
        repo.add(a_grant("A3", grantor="h-aunt", status="revoked", revoked_at=AT))
        repo.add(a_grant("A4", grantor="h-grandma", phone="13900139000"))
        held = repo.held_by("13800138000")
        assert [g.authorization_id for g in held] == ["A1", "A2"]
        assert scopes_by_grantor(held) == {"h-grandma": {"view", "claims"}, "h-grandpa": {"view"}}
        assert repo.held_by("13700137000") == []

    def test_a_person_sees_every_grant_they_gave_revoked_too(self, repo):
        repo.add(a_grant("A1"))
        repo.add(a_grant("A2", status="revoked", revoked_at=AT))
        repo.add(a_grant("A3", grantor="h-other"))
        assert [g.authorization_id for g in repo.given_by("h-grandma")] == ["A1", "A2"]
        assert repo.given_by("h-nobody") == []

    def test_a_revoked_grant_is_held_by_nobody_at_once(self, repo):
        repo.add(a_grant("A1"))
        revoked = repo.revoke("A1", "h-grandma", "2021-04-16T09:00:00+08:00")
        assert (revoked.status, revoked.revoked_at) == ("revoked", "2021-04-16T09:00:00+08:00")
        assert repo.held_by("13800138000") == []
        assert repo.get("A1") == revoked
        assert [g.status for g in repo.given_by("h-grandma")] == ["revoked"]

    def test_only_the_grantor_revokes_and_an_unknown_grant_is_none(self, repo):
        repo.add(a_grant("A1"))
        assert repo.revoke("A1", "h-stranger", AT) is None
        assert repo.revoke("A-NOPE", "h-grandma", AT) is None
        assert repo.get("A1").active
        assert [g.authorization_id for g in repo.held_by("13800138000")] == ["A1"]

    def test_grantor_names_are_those_known(self, repo, person):
        person("h-grandma", "王秀兰")
        assert repo.grantor_names({"h-grandma", "h-unknown"}) == {"h-grandma": "王秀兰"}
        assert repo.grantor_names(set()) == {}


class TestDynamoGrantRepository(GrantRepositoryContract):
    @pytest.fixture()
    def repo(self, aws):
        from chalicelib import deps

        return DynamoGrantRepository(deps.table())

    @pytest.fixture()
    def person(self, repo):
        from chalicelib.adapters import keys

        return lambda id_hash, name: repo.table.put({**keys.person(id_hash), "id_hash": id_hash, "name": name})


class TestInMemoryGrantRepository(GrantRepositoryContract):
    @pytest.fixture()
    def repo(self):
        return InMemoryGrantRepository()

    @pytest.fixture()
    def person(self, repo):
        return repo.names.__setitem__
