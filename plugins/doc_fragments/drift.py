"""Options the Linux drift modules share (drift_linux, drift_gateway)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  runtime:
    description: Also check tunnels and BGP (Linux gateways; a router's runtime state is read by the verification modules).
    type: bool
    default: true
  backup:
    description: Return the masked backup texts.
    type: bool
    default: true
"""
