"""The sharing rules beyond the TLP matrix, changed in the console: default TLP, unknown
markings, detector actions, internal domains and the properties kept per type. Each change is
checked, shown with its effect, made a policy version naming its author and an audit event;
and the configuration file changes only what it changes."""

from __future__ import annotations

import re
from typing import Any

import orjson

from hub.config import replace
from hub.services import Hub, setup
from hub.services.sharing import current_policy
from hub.sharing.policy import DETECTORS, Policy
from tests.functional.console.conftest import Site
from tests.support.console import (
    ADMIN,
    PASSWORD,
    Console,
    audit_actions,
    held_indicator,
    submit,
    version_made,
)
from tests.support.stix import indicator


def admin(site: Site) -> Console:
    console = site.console()
    assert console.sign_in(*ADMIN).status_code == 302
    return console


def rules_form(version: int, policy: Policy, **changes: Any) -> dict[str, Any]:
    """The rules form as the page fills it for `policy`, with `changes` made."""
    form: dict[str, Any] = {
        "base_version": str(version),
        "default_tlp": policy.default_tlp,
        "unknown_marking": policy.unknown_marking,
        "internal_domains": "\n".join(policy.internal_domains),
        **{f"detector-{name}": policy.action(name) for name in DETECTORS},
        **{f"allowed-{t}": " ".join(sorted(p)) for t, p in policy.allowed_properties.items()},
    }
    form.update(changes)
    return form


def problems(page: str) -> list[str]:
    block = page.split('id="rules-error">')[1].split("</div>")[0]
    return re.findall(r"<li>(.*?)</li>", block)


def test_a_rules_change_shows_its_effect_then_becomes_a_console_version(site: Site) -> None:
    acme = site.world.acme
    held = held_indicator("203.0.113.31")  # e-mail in the description: held (detect_email)
    plain = indicator("198.51.100.32", description="Seen scanning")
    submit(site.app, acme.secret, held, plain)
    version, policy = current_policy(site.hub)
    console = admin(site)
    page = console.get("/console/policy/rules").get_data(as_text=True)
    assert 'name="detector-email"' in page
    assert "(the configuration file says" not in page  # nothing set here yet
    indicator_props = set(policy.allowed_properties["indicator"]) - {"description"}
    form = rules_form(
        version,
        policy,
        **{
            "detector-email": "redact",
            "default_tlp": "green",
            "internal_domains": "corp\nACME.internal.\nlan",
            "allowed-indicator": ", ".join(sorted(indicator_props)),
            "new_type": "x-acme-widget",
            "new_type_properties": "type spec_version id created modified name",
        },
    )

    confirm = console.post("/console/policy/rules/propose", form)
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    changes = re.findall(r"<li>(.*?)</li>", text.split('id="policy-changes">')[1].split("</ul>")[0])
    assert changes == [
        "default TLP: AMBER → GREEN",
        "detector email: hold → redact",
        "internal domains: added acme.internal; removed home.arpa, internal, intranet, local, "
        "localdomain",
        "allowed properties of indicator: removed description",
        "allowed properties of x-acme-widget: listed, created, id, modified, name, spec_version,"
        " type",
    ]
    # The held object would now be released (redacted) to both feeds that take AMBER; the
    # other loses its description there: released differently.
    members = text.split("<tr><td><code>members</code></td>")[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', members) == ["1", "0", "1"]
    assert held["id"] in members
    outcomes = text.split('id="outcome-effects">')[1].split("</table>")[0]
    held_row = outcomes.split('<th scope="row">held for review</th>')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', held_row) == ["1", "0"]  # now, after
    assert current_policy(site.hub)[0] == version  # nothing stored yet

    carried = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', text))
    assert carried["detector-email"] == "redact"
    made = console.post("/console/policy/rules/apply", {**form, "note": "redact, do not hold"})
    assert made.status_code == 302
    number, now = current_policy(site.hub)
    assert number == version + 1
    assert (now.default_tlp, now.action("email")) == ("green", "redact")
    assert now.internal_domains == ("acme.internal", "corp", "lan")
    assert "description" not in now.allowed_properties["indicator"]
    assert "name" in now.allowed_properties["x-acme-widget"]
    assert version_made(site.hub, number) == ("console", ADMIN[0], "redact, do not hold")
    (event,) = audit_actions(site.hub, "policy.change")
    detail = orjson.loads(event["detail"])
    assert (event["actor"], detail["version"], detail["from_version"]) == (
        ADMIN[0],
        number,
        version,
    )
    assert detail["changes"] == changes
    history = console.get("/console/policy/versions").get_data(as_text=True)
    assert "detector email: hold → redact" in history

    # It decides what comes next: an e-mail address is now redacted, not held.
    later = submit(site.app, acme.secret, held_indicator("203.0.113.33"))
    (success,) = later["status"]["successes"]
    assert success["message"].startswith("released to government, members")
    # A form made for the version before is refused, and changes nothing.
    stale = console.post("/console/policy/rules/apply", {**form, "note": "again"})
    assert stale.status_code == 409
    assert "changed" in stale.get_data(as_text=True)
    assert current_policy(site.hub)[0] == number


def test_invalid_values_are_refused_each_with_what_is_wrong(site: Site) -> None:
    version, policy = current_policy(site.hub)
    console = admin(site)
    required = "type spec_version id created modified"
    form = rules_form(
        version,
        policy,
        **{
            "default_tlp": "purple",
            "detector-phone": "shred",
            "internal_domains": "corp\nex_ample.com",
            "allowed-indicator": "type spec_version created modified pattern x_score Bad-Name",
            "new_type": "X Widget",
            "new_type_properties": required,
        },
    )
    for step in ("propose", "apply"):
        refused = console.post(f"/console/policy/rules/{step}", {**form, "note": "n"})
        assert refused.status_code == 400
        page = refused.get_data(as_text=True)
        assert problems(page) == [
            "default TLP: &#39;purple&#39; is not one of clear, green, amber, amber+strict, red",
            "detector phone: &#39;shred&#39; is not one of redact, hold, allow",
            "internal domains: &#39;ex_ample.com&#39; is not a domain name (letters, digits and "
            "hyphens in dot-separated labels; an internationalised name in its xn-- form)",
            "allowed properties of indicator: &#39;Bad-Name&#39; not a STIX property name",
            "allowed properties of indicator: x_score: custom x_ properties are kept or redacted"
            " by the custom-property detector, not listed",
            "allowed properties of indicator: keep id (every released indicator needs type, "
            "spec_version, id, created, modified)",
            "new type: &#39;x widget&#39; is not a STIX type name (3 to 250 lowercase letters, "
            "digits and hyphens)",
        ]
        # The form shows what was typed, to be corrected.
        assert "ex_ample.com</textarea>" in page
    # An observable needs only its type and id; a type already listed is changed in its row.
    observable = rules_form(version, policy, **{"allowed-url": "type id", "new_type": "indicator"})
    page = console.post("/console/policy/rules/propose", observable).get_data(as_text=True)
    assert problems(page) == ["new type: indicator has a list already; change it in its row"]
    unchanged = console.post("/console/policy/rules/propose", rules_form(version, policy))
    assert unchanged.status_code == 302  # "Nothing would change."
    assert current_policy(site.hub)[0] == version
    assert audit_actions(site.hub, "policy.change") == []


def test_analysts_see_the_rules_but_cannot_change_them(site: Site) -> None:
    version, policy = current_policy(site.hub)
    analyst = site.console()
    assert analyst.sign_in("analyst@hub.local", PASSWORD).status_code == 302
    page = analyst.get("/console/policy/rules").get_data(as_text=True)
    assert re.search(r'<select id="default_tlp" name="default_tlp" disabled>', page)
    assert "Review the change" not in page
    form = rules_form(version, policy, **{"detector-email": "allow"})
    for step in ("propose", "apply"):
        assert (
            analyst.post(f"/console/policy/rules/{step}", {**form, "note": "n"}).status_code == 403
        )
    # Nor may a member's administrator see them; and nobody changes them without the token.
    member_admin = site.console()
    member_admin.sign_in("it@northwind.example", PASSWORD)
    assert member_admin.get("/console/policy/rules").status_code == 403
    forged = admin(site).post("/console/policy/rules/apply", {**form, "note": "n"}, csrf=False)
    assert forged.status_code == 400
    assert current_policy(site.hub)[0] == version


def _restart(hub: Hub, **sharing: str) -> Hub:
    """The hub started again with a changed [sharing] section (what `hub serve` runs first)."""
    again = Hub.open(replace(hub.settings, sharing=sharing))
    setup.prepare(again)
    return again


def test_the_configuration_changes_only_the_settings_it_changed(site: Site) -> None:
    version, policy = current_policy(site.hub)
    console = admin(site)
    form = rules_form(version, policy, **{"detector-phone": "hold", "default_tlp": "green"})
    assert console.post("/console/policy/rules/apply", {**form, "note": "n"}).status_code == 302
    console_version = version + 1

    # Started again with the same file: nothing new.
    same = _restart(site.hub)
    assert current_policy(same)[0] == console_version
    same.close()

    # The file changes the internal domains and the default TLP: those follow the file, the
    # phone detector keeps its console value.
    changed = _restart(site.hub, internal_domains="corp,acme.internal", default_tlp="clear")
    number, merged = current_policy(changed)
    assert number == console_version + 1
    assert merged.internal_domains == ("acme.internal", "corp")
    assert merged.default_tlp == "clear"
    assert merged.action("phone") == "hold"
    assert merged.action("email") == "hold"  # the site's configuration, untouched
    source, _, note = version_made(changed, number)
    assert source == "config"
    assert note is not None and f"carried onto version {console_version}" in note
    changed.close()
    page = console.get("/console/policy/rules").get_data(as_text=True)
    assert "(the configuration file says redact)" in page  # the phone detector

    # Started again with that same file: still nothing new, the console setting stays.
    again = _restart(site.hub, internal_domains="corp,acme.internal", default_tlp="clear")
    assert current_policy(again) == (number, merged)
    # The file then changes the phone detector itself: the file wins that setting.
    phone = _restart(
        site.hub,
        internal_domains="corp,acme.internal",
        default_tlp="clear",
        detect_phone="allow",
    )
    assert current_policy(phone)[1].action("phone") == "allow"
    again.close()
    phone.close()
