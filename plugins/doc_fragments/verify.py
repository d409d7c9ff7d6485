"""Options the verification modules share (tunnel_status, bgp_status, path_check, firewall_check)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  fail_on_error:
    description: Fail the task when a check fails (the result still carries C(checks)).
    type: bool
    default: true
notes:
  - Read-only; supports check mode.
"""

    WAIT = r"""
options:
  wait_timeout:
    description: Seconds to keep re-reading until every check passes (0 reads once); C(elapsed_s) says how long it took.
    type: float
    default: 0
  interval:
    description: Seconds between reads while waiting.
    type: float
    default: 0.5
"""

    PROBE = r"""
notes:
  - Read-only (sends probes only); runs in check mode too.
options:
  target:
    description: Host name or address of the cloud host (default the site's DICOMweb host).
    type: str
  source:
    description: Source address for the probes (needed on the gateway, e.g. its LAN address).
    type: str
"""
