"""Options every module that talks to a gateway shares (push, state, drift): which platform, how to reach it."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  platform:
    description:
      - Gateway platform of the host (C(gateway_platform)); one of the platforms in the registry
        (C(plugins/module_utils/platforms/)).
      - C(linux_strongswan) modules run on the gateway itself; router platforms run on the controller
        (delegate to localhost) and reach the device through O(transport).
    type: str
    required: true
  transport:
    description:
      - C(netmiko) (CLI), C(netconf) (ncclient), C(napalm), or C(linux) (the Linux gateway itself).
      - Default per platform (the spec's C(default_transport)); an unsupported combination is an error naming the valid ones.
    type: str
    choices: [netmiko, netconf, napalm, linux]
  host:
    description: Management address of the router (ignored for platforms that run on the gateway).
    type: str
  port:
    description: SSH/NETCONF port (default from the platform spec for the transport, e.g. 22 or 830).
    type: int
  username:
    description: Login user of the router.
    type: str
  password:
    description: Login password.
    type: str
  key_file:
    description: SSH private key file (instead of or besides the password).
    type: path
  enable_secret:
    description: IOS enable secret (netmiko).
    type: str
  timeout:
    description: Connect/read timeout in seconds.
    type: int
    default: 20
  command_timeout:
    description: Seconds to wait for the device's answer to one CLI line (netmiko).
    type: int
    default: 15
  device_type:
    description: Netmiko device type.
    type: str
    default: cisco_ios
  napalm_driver:
    description: NAPALM driver (default from the platform spec; C(mock) for tests).
    type: str
  napalm_optional_args:
    description: NAPALM optional_args (for the mock driver a dict with C(path) set to the recorded answers).
    type: dict
  hostkey_verify:
    description:
      - Verify the router's SSH host key (netmiko CLI and NETCONF sessions) against O(known_hosts).
      - An unknown or changed key stops the module before anything is sent, with a message naming the
        host, the key the device presented and the C(ssh-keyscan)/C(ssh-keygen -R) commands that accept a
        legitimate change.
      - Turn it off only for lab simulators (C(gateway_hostkey_verify=false)).
    type: bool
    default: true
  known_hosts:
    description:
      - OpenSSH known_hosts file holding the routers' host keys (C(gateway_known_hosts)).
      - Default is the controller user's C(~/.ssh/known_hosts).
    type: path
  wan_acl_policy:
    description:
      - What to do when the facility already binds its own ACL on the WAN interface (C(wan_acl_policy), cisco_iosxe).
      - V(stop) reports a conflict and sends nothing for that binding; V(merge) inserts stowpath's IKE/ESP entries
        into the facility's ACL before its own entries (sequence numbers below its first one). The facility's
        binding is never replaced.
    type: str
    choices: [stop, merge]
    default: stop
  secrets:
    description: Extra values to mask in all output.
    type: list
    elements: str
notes:
  - Set these once per play with C(module_defaults) for the action group C(group/stowpath.core.device).
"""
