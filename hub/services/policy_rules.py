"""The sharing rules besides the TLP x audience matrix, changed from the console: the default
TLP, what an unknown marking does, each personal-data detector's action, the internal domains
and the properties kept per type. A form's values become a change for `policy_admin` (checked
all at once: every problem is named), proposed and made like a matrix change."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from hub.errors import BadRequest
from hub.services.context import Hub
from hub.services.policy_admin import Change
from hub.services.sharing import config_policy, current_policy
from hub.sharing.policy import (
    ACTIONS,
    DETECTORS,
    UNKNOWN_MARKING_ACTIONS,
    Policy,
    PolicyError,
    allowed_list_problems,
)
from hub.stix.markings import TLP_LEVELS

MAX_DOMAINS = 200

_SEPARATORS = re.compile(r"[\s,]+")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
# STIX 2.1: a type is 3 to 250 lowercase letters, digits and hyphens.
_TYPE = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")


@dataclass(frozen=True)
class RulesPage:
    version: int
    policy: Policy
    configured: Policy  # what the configuration file says, for comparison


def page(hub: Hub) -> RulesPage:
    version, policy = current_policy(hub)
    return RulesPage(version, policy, config_policy(hub.settings))


def rules_change(fields: Mapping[str, str]) -> Change:
    """The form's values (`default_tlp`, `unknown_marking`, `detector-<name>`,
    `internal_domains`, `allowed-<type>` for each type listed, `new_type` and
    `new_type_properties`) as a change; BadRequest naming every problem."""

    def change(current: Policy) -> Policy:
        problems: list[str] = []
        default_tlp = fields.get("default_tlp", "")
        if default_tlp not in TLP_LEVELS:
            problems.append(f"default TLP: {default_tlp!r} is not one of {', '.join(TLP_LEVELS)}")
        unknown = fields.get("unknown_marking", "")
        if unknown not in UNKNOWN_MARKING_ACTIONS:
            choices = ", ".join(UNKNOWN_MARKING_ACTIONS)
            problems.append(f"unknown markings: {unknown!r} is not one of {choices}")
        actions = {}
        for name in DETECTORS:
            action = fields.get(f"detector-{name}", "")
            if action not in ACTIONS:
                problems.append(f"detector {name}: {action!r} is not one of {', '.join(ACTIONS)}")
            actions[name] = action
        domains = _domains(fields.get("internal_domains", ""), problems)
        allowed = _allowed(current, fields, problems)
        if problems:
            raise BadRequest(
                "the policy was not changed: " + "; ".join(problems),
                details={"problems": problems},
            )
        try:
            return dataclasses.replace(
                current,
                default_tlp=default_tlp,
                unknown_marking=unknown,
                actions=actions,
                internal_domains=domains,
                allowed_properties=allowed,
            )
        except PolicyError as exc:  # pragma: no cover - every value was checked above
            raise BadRequest(str(exc)) from None

    return change


def _domains(text: str, problems: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for item in _SEPARATORS.split(text.strip()):
        domain = item.strip(".").lower()
        if not domain:
            continue
        if not _DOMAIN.match(domain):
            problems.append(
                f"internal domains: {item!r} is not a domain name (letters, digits and hyphens "
                "in dot-separated labels; an internationalised name in its xn-- form)"
            )
        elif domain not in found:
            found.append(domain)
    if len(found) > MAX_DOMAINS:
        problems.append(f"internal domains: at most {MAX_DOMAINS}")
    return tuple(sorted(found))


def _allowed(
    current: Policy, fields: Mapping[str, str], problems: list[str]
) -> dict[str, frozenset[str]]:
    allowed: dict[str, frozenset[str]] = {}
    for obj_type in sorted(current.allowed_properties):
        props = _properties(obj_type, fields.get(f"allowed-{obj_type}", ""), problems)
        if props:  # an emptied list: objects of the type are held for review
            allowed[obj_type] = props
    new_type = fields.get("new_type", "").strip().lower()
    if new_type:
        text = fields.get("new_type_properties", "")
        if not _TYPE.match(new_type):
            problems.append(
                f"new type: {new_type!r} is not a STIX type name (3 to 250 lowercase letters, "
                "digits and hyphens)"
            )
        elif new_type in current.allowed_properties:
            problems.append(f"new type: {new_type} has a list already; change it in its row")
        elif not text.strip():
            problems.append(f"allowed properties of {new_type}: name the properties to keep")
        else:
            allowed[new_type] = _properties(new_type, text, problems)
    return allowed


def _properties(obj_type: str, text: str, problems: list[str]) -> frozenset[str]:
    names = {name for name in _SEPARATORS.split(text.strip()) if name}
    if names:
        problems += allowed_list_problems(f"allowed properties of {obj_type}", obj_type, names)
    return frozenset(names)
