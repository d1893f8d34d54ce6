"""Real people as the 医保 platform knows them: one lookup used by identity binding, family members and orders."""
from __future__ import annotations

from chalicelib.domain.errors import RuleViolation, UpstreamUnavailable
from chalicelib.domain.messages import term
from chalicelib.domain.platform import PlatformPerson

ID_NUMBER_CONTEXT = "id_number"  # AES-GCM associated data of encrypted ID numbers (docs/access-patterns.md)


def _unavailable(code: str) -> UpstreamUnavailable:
    if code == "UPSTREAM_UNAVAILABLE":
        return UpstreamUnavailable(code, system=term("SYSTEM_PLATFORM"))
    return UpstreamUnavailable(code)


def find_platform_person(platform, id_number: str, unavailable: str = "UPSTREAM_UNAVAILABLE") -> PlatformPerson | None:
    """The 医保 platform's record, None if unknown; 503 (`unavailable`) when the platform does not answer."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    try:
        return platform.find_person(id_number)
    except PlatformUnavailable:
        raise _unavailable(unavailable) from None
    except PlatformError as exc:
        if exc.code == "PERSON_NOT_FOUND":
            return None
        raise _unavailable(unavailable) from None


def verified_platform_person(platform, id_number: str, name: str, field: str | None = None,
                             unavailable: str = "UPSTREAM_UNAVAILABLE") -> PlatformPerson:
    """The platform's record of this person under this name. Unknown ID and another name get the same answer, so
    the API cannot be used to learn whether someone is insured."""
    from chalicelib.domain.identity import same_person_name

    person = find_platform_person(platform, id_number, unavailable)
    if person is None or not same_person_name(name, person.name):
        details = {"field": field} if field else {}
        raise RuleViolation("PERSON_NOT_FOUND_IN_PLATFORM", **details)
    return person
