"""Every secret form the masking engine knows (redact.py and each platform's SECRET_RULES) is masked, the
masking is idempotent, and anything that still looks secret after masking stops a write (fail-closed)."""

from __future__ import annotations

import pytest
from ansible_collections.stowpath.core.plugins.module_utils import redact
from ansible_collections.stowpath.core.plugins.module_utils.platforms import cisco_iosxe, junos, linux_strongswan
from ansible_collections.stowpath.core.plugins.module_utils.redact import MASK

CLEAR = "Zq7.Secret.Value.42"

COMMON = [  # redact._CONFIG_SECRET_PATTERNS
    f'        secret = "{CLEAR}"',
    f"        secret = {CLEAR}",
    f" neighbor 169.254.1.1 password {CLEAR}",
    f" neighbor 169.254.1.1 password 7 {CLEAR}",
    f"  pre-shared-key {CLEAR}",
    f"  pre-shared-key local 6 {CLEAR}",
    f"  pre-shared-key remote {CLEAR}",
    f'set security ike policy P pre-shared-key ascii-text "{CLEAR}"',
    f"set protocols bgp group G authentication-key {CLEAR}",
    f" hexadecimal {CLEAR}",
    f"username admin secret 9 {CLEAR}",
]
IOSXE = [  # cisco_iosxe.SECRET_RULES
    f"enable secret 9 {CLEAR}",
    f"enable password {CLEAR}",
    f"enable secret level 15 5 {CLEAR}",
    f"username admin privilege 15 algorithm-type scrypt secret {CLEAR}",
    f"username ops password 7 {CLEAR}",
    f"snmp-server community {CLEAR} RO",
    f"snmp-server user u g v3 auth sha {CLEAR} priv aes 128 {CLEAR}",
    f"tacacs-server host 10.0.0.1 key 7 {CLEAR}",
    f"radius-server key {CLEAR}",
    f" key 7 {CLEAR}",
    f" server-private 10.0.0.2 key {CLEAR}",
    f"crypto isakmp key {CLEAR} address 192.0.2.1",
    f"  key-string 7 {CLEAR}",
    f" authentication-key 7 {CLEAR}",
    f" ip ospf message-digest-key 1 md5 {CLEAR}",
    f"ntp authentication-key 1 md5 {CLEAR} 7",
    f" password 7 {CLEAR}",
    f"<key>{CLEAR}</key>",
    f"<key-string>{CLEAR}</key-string>",
    f"<password>{CLEAR}</password>",
    f"<secret>{CLEAR}</secret>",
    f"<text>{CLEAR}</text>",
    f"<md5>{CLEAR}</md5>",
]
JUNOS = [  # junos.SECRET_RULES
    f'pre-shared-key ascii-text "{CLEAR}";',
    f"authentication-key {CLEAR};",
    f'encrypted-password "{CLEAR}";',
    f"secret {CLEAR};",
    f"set snmp community {CLEAR} authorization read-only",
    f"<ascii-text>{CLEAR}</ascii-text>",
    f"<encrypted-password>{CLEAR}</encrypted-password>",
    'authentication-key "$9$abcDEF123xyz";',
]


@pytest.mark.parametrize("line", COMMON)
def test_common_forms_are_masked_everywhere(line: str) -> None:
    for mask in (redact.mask_secrets, cisco_iosxe.mask, linux_strongswan.mask):
        out = mask(line)
        assert CLEAR not in out and MASK in out, (mask.__module__, out)
        assert mask(out) == out  # idempotent
        assert not redact.unmasked_secrets(out), out


@pytest.mark.parametrize("line", IOSXE)
def test_iosxe_forms_are_masked(line: str) -> None:
    out = cisco_iosxe.mask(line)
    assert CLEAR not in out and MASK in out, out
    assert cisco_iosxe.mask(out) == out
    assert not redact.unmasked_secrets(out), out


@pytest.mark.parametrize("line", JUNOS)
def test_junos_forms_are_masked(line: str) -> None:
    out = junos.mask(line)
    assert CLEAR not in out and "$9$abc" not in out and MASK in out, out
    assert junos.mask(out) == out
    assert not redact.unmasked_secrets(out), out


def test_what_is_not_a_secret_stays() -> None:
    benign = ("service password-encryption\ncrypto ikev2 keyring STOWPATH-KEYRING\n key chain OSPF\n"
              " authentication pre-share\npassword encryption aes\n")
    assert cisco_iosxe.mask(benign) == benign


def test_known_values_are_masked_in_any_context() -> None:
    text = f"an error message quoting {CLEAR} and {CLEAR[::-1]}"
    out = redact.mask_secrets(text, [CLEAR])
    assert CLEAR not in out and CLEAR[::-1] in out
    assert redact.mask_structure({"psk": "x", "nested": [{"note": CLEAR}], "bgp_auth_key": "k"}, [CLEAR]) == {
        "psk": MASK, "nested": [{"note": MASK}], "bgp_auth_key": MASK}


@pytest.mark.parametrize("line", [
    f"crypto isakmp key {CLEAR} address 192.0.2.1",
    f"snmp-server community {CLEAR} RO",
    f" key-string {CLEAR}",
    f"tacacs-server key {CLEAR}",
    f"<key-string>{CLEAR}</key-string>",
    'set system root-authentication encrypted-password "$9$abcDEF123xyz"',
    f"ntp authentication-key 1 md5 {CLEAR}",
])
def test_fail_closed_when_a_secret_survives_the_mask(line: str) -> None:
    assert redact.unmasked_secrets(line)  # the common engine alone does not know these forms
    with pytest.raises(redact.UnmaskedSecretError):
        redact.mask_closed(line, lambda t: t, "journal")
    with pytest.raises(redact.UnmaskedSecretError):
        redact.mask_closed(line, redact.mask_secrets, "journal")
    platform_mask = junos.mask if "$9$" in line else cisco_iosxe.mask  # the platform's own rules know it
    assert CLEAR not in redact.mask_closed(line, platform_mask, "journal")


def test_masked_secrets_come_back_only_with_the_right_hash() -> None:
    clear = f" neighbor 169.254.1.1 password {CLEAR}\n description x\n"
    masked = redact.mask_secrets(clear)
    hashes = redact.masked_line_hashes(clear, masked)
    assert hashes == [redact.sha256(clear.splitlines()[0])]
    assert redact.fill_masked(masked, [clear], redact.mask_secrets, hashes) == clear
    other = clear.replace(CLEAR, "Another.Value.99")
    assert CLEAR not in redact.fill_masked(masked, [other], redact.mask_secrets, hashes)
