"""NETCONF with ncclient (cisco_iosxe native YANG, junos): candidate + confirmed commit.

* diff: lock the candidate, discard stale edits, read ``running``, ``edit-config`` the payload into the
  candidate, read the candidate back, discard, unlock. The diff is what the device itself computed
  (its merge of our payload), so ``--check --diff`` is exact and changes nothing. A payload the device
  refuses (schema: bad mask, unknown leaf, value out of range) fails here already, with its message.
* apply: lock, ``edit-config``, ``<commit><confirmed/><confirm-timeout>N</confirm-timeout>
  <persist>TOKEN</persist></commit>`` (RFC 6241 confirmed-commit 1.1), unlock. ``persist`` lets the
  later confirm/rollback come from another session (the next module call).
* confirm: ``<commit><persist-id>TOKEN</persist-id></commit>``; rollback: ``<cancel-commit>``.
  If nothing confirms, the device restores the previous running configuration by itself at the
  timeout (also when the controller or the connection dies).

Not used on purpose: ``<validate source=candidate>`` (yuma123 silently discards pending edits) and
ansible.netcommon's netconf_config ``confirm:`` (passes an int to ncclient).
"""

from __future__ import annotations

import difflib
import re
import tempfile
from typing import Any

from . import errors, hostkeys
from .base import Change, Transport

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
KEY_LEAVES = ("name", "id", "tag", "sequence", "seq_no", "no", "prefix", "number", "af-name", "inout", "fwd")
SECRET_LEAVES = re.compile(r"(<(?:key|text|ascii-text|authentication-key|hex)>)([^<]+)(</)")


def _local(tag: Any) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def _parse(xml: str | bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True, resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False)
    return etree.fromstring(xml.encode() if isinstance(xml, str) else xml, parser=parser)


def pretty_lines(element: Any, depth: int = 0) -> list[str]:
    """A stable, readable rendering: one leaf per line, containers open/close, namespaces dropped."""
    out: list[str] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        tag = _local(child.tag)
        pad = "  " * depth
        if len(child):
            out.append(f"{pad}<{tag}>")
            out.extend(pretty_lines(child, depth + 1))
            out.append(f"{pad}</{tag}>")
        elif child.text and child.text.strip():
            out.append(f"{pad}<{tag}>{child.text.strip()}</{tag}>")
        else:
            out.append(f"{pad}<{tag}/>")
    return out


def _key_of(element: Any) -> str:
    for child in element:
        if isinstance(child.tag, str) and _local(child.tag) in KEY_LEAVES and not len(child):
            return f"{_local(child.tag)}={(child.text or '').strip()}"
    return ""


def _canonical(element: Any) -> str:
    """Order-insensitive canonical form of a subtree (for equality only)."""
    if not len(element):
        return f"{_local(element.tag)}={(element.text or '').strip()}"
    return f"{_local(element.tag)}(" + ",".join(sorted(_canonical(c) for c in element if isinstance(c.tag, str))) + ")"


def entries(root: Any, paths: tuple[str, ...]) -> dict[str, Any]:
    """``{'native/crypto/ikev2/proposal[name=X]': element}`` for every list entry under ``paths``."""
    found: dict[str, Any] = {}

    def walk(el: Any, path: str) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            p = f"{path}/{_local(child.tag)}" if path else _local(child.tag)
            if p in paths:
                found[f"{p}[{_key_of(child)}]"] = child
            elif any(x.startswith(p + "/") for x in paths):
                walk(child, p)

    walk(root, "")
    return found


def as_config(payload: str) -> str:
    """The payload wrapped in ``<config>`` (edit-config wants that root; Junos files start at ``<configuration>``)."""
    from lxml import etree

    root = _parse(payload)
    if _local(root.tag) == "config":
        return etree.tostring(root, encoding="unicode")
    wrapper = etree.Element(f"{{{NC_NS}}}config", nsmap={None: NC_NS})
    wrapper.append(root)
    return etree.tostring(wrapper, encoding="unicode")


def mark_replace(payload: str, paths: tuple[str, ...], attribute: str = "operation") -> str:
    """Add ``nc:operation="replace"`` (or Junos' ``replace="replace"``) on every owned list entry."""
    from lxml import etree

    root = _parse(as_config(payload))
    for element in entries(root, paths).values():
        if attribute == "operation":
            element.set(f"{{{NC_NS}}}operation", "replace")
        else:
            element.set("replace", "replace")
    return etree.tostring(root, encoding="unicode")


def extract_secrets(payload: str) -> list[str]:
    return [m.group(2) for m in SECRET_LEAVES.finditer(payload)]


def _child(element: Any, tag: str) -> Any:
    return next((c for c in element if isinstance(c.tag, str) and _local(c.tag) == tag), None)


def _acl_bindings(root: Any) -> dict[tuple[str, str, str], Any]:
    """``{(interface type, name, in|out): <in>/<out> element}`` of every ``ip access-group`` binding."""
    found: dict[tuple[str, str, str], Any] = {}
    for group in root.iter():
        if not isinstance(group.tag, str) or _local(group.tag) != "access-group":
            continue
        ip = group.getparent()
        iface = ip.getparent() if ip is not None else None
        name = _child(iface, "name") if iface is not None else None
        if ip is None or _local(ip.tag) != "ip" or name is None:
            continue
        for direction in group:
            acl = _child(direction, "acl") if isinstance(direction.tag, str) else None
            acl_name = _child(acl, "acl-name") if acl is not None else None
            if acl_name is not None and (acl_name.text or "").strip():
                found[(_local(iface.tag), (name.text or "").strip(), _local(direction.tag))] = direction
    return found


def _acl_name(direction: Any) -> str:
    return (_child(_child(direction, "acl"), "acl-name").text or "").strip()


def guard_facility_acls(payload: str, running: str, previous: str | None) -> tuple[str, list[str], list[str]]:
    """Never replace an ACL the facility bound on an interface of the payload (the WAN interface).

    A binding in ``running`` that stowpath did not make (not ``STOWPATH-*``, not in the ``previous``
    payload) is a conflict, and stowpath's binding for that direction is taken out of the payload (so
    neither merge nor replace rebinds it). Returns (payload, conflicts, notes)."""
    from lxml import etree

    root = _parse(payload)
    have = _acl_bindings(_parse(running))
    before = _acl_bindings(_parse(as_config(previous))) if previous else {}
    conflicts: list[str] = []
    notes: list[str] = []
    for key, direction in _acl_bindings(root).items():
        ours, theirs = _acl_name(direction), (_acl_name(have[key]) if key in have else "")
        if not theirs or theirs == ours or theirs.startswith("STOWPATH-"):
            continue
        if key in before and _acl_name(before[key]) == theirs:
            continue
        iface = f"interface {key[0]}{key[1]}"
        conflicts.append(f"{iface}: ip access-group {theirs} {key[2]} (the facility's ACL; stowpath would bind "
                         f"{ours} instead: add stowpath's entries from {ours} to {theirs}, then push again)")
        notes.append(f"{iface} keeps the facility's ACL {theirs} ({key[2]}): not replaced")
        direction.getparent().remove(direction)
    return etree.tostring(root, encoding="unicode"), conflicts, notes


class NetconfTransport(Transport):
    name = "netconf"
    device_side_rollback = True

    def __init__(self, spec: Any, conn: Any, secrets: list[str] | None = None) -> None:
        super().__init__(spec, conn, secrets)
        if not spec.netconf:
            raise errors.TransportError(f"{spec.name} has no NETCONF data model in its platform spec")
        self.data = spec.netconf
        from ncclient import manager
        from ncclient.transport.errors import AuthenticationError as NcAuthError
        from ncclient.transport.errors import SSHError, SSHUnknownHostError
        from ncclient.transport.errors import TransportError as NcTransportError

        c = conn
        verify = bool(c.options.get("hostkey_verify", False))
        known_hosts = c.options.get("known_hosts") or None
        try:
            with tempfile.TemporaryDirectory(prefix="stowpath-nc-") as workdir:
                self.m = manager.connect(
                    host=c.host, port=c.port, username=c.username, password=c.password,
                    key_filename=c.key_file, allow_agent=False, look_for_keys=False, timeout=c.timeout,
                    device_params={"name": c.options.get("device_handler", self.data["device"])},
                    **hostkeys.ncclient_kwargs(known_hosts, verify, workdir),
                )
        except SSHUnknownHostError:
            raise (hostkeys.check(c.host, c.port, known_hosts, c.timeout)
                   or hostkeys.HostKeyError(f"SSH host key of {hostkeys.host_entry(c.host, c.port)} is not "
                                            "trusted (known_hosts)")) from None
        except NcAuthError:
            raise errors.AuthenticationError(f"NETCONF authentication failed for {c.username}@{c.host}:{c.port} "
                                      "(not retried: check the credentials)") from None
        except (SSHError, NcTransportError, OSError) as exc:
            raise errors.ConnectError(f"cannot open a NETCONF session to {c.host}:{c.port}: {self.mask(str(exc))}") from None
        caps = set(self.m.server_capabilities)
        need = {":candidate": "urn:ietf:params:netconf:capability:candidate:1.0",
                ":confirmed-commit:1.1": "urn:ietf:params:netconf:capability:confirmed-commit:1.1"}
        missing = [n for n, uri in need.items() if not any(cap.startswith(uri) for cap in caps)]
        if missing:
            self.close()
            raise errors.TransportError(f"{c.host}:{c.port} lacks NETCONF capabilities {', '.join(missing)}: "
                                 "stowpath needs a candidate datastore and confirmed commits with persist")

    # -- helpers
    def mask(self, text: str) -> str:
        return SECRET_LEAVES.sub(lambda m: m.group(1) + "********" + m.group(3), super().mask(text))

    def _rpc_error(self, exc: Exception) -> str:
        parts = []
        for err in getattr(exc, "errors", None) or [exc]:
            msg = getattr(err, "message", None) or str(err)
            path = getattr(err, "_path", None) or ""
            info = getattr(err, "info", None) or ""
            bad = re.findall(r"<(bad-element|bad-value)[^>]*>([^<]*)<", info or "")
            text = msg.strip()
            if path:
                text += f" at {re.sub(r'[a-z-]+:', '', path.strip())}"
            if bad:
                text += " (" + ", ".join(f"{k} {v}" for k, v in bad) + ")"
            parts.append(text)
        return self.mask("; ".join(parts))

    def _get(self, source: str) -> str:
        return self.m.get_config(source=source, filter=("subtree", self.data["filter"])).data_xml

    def _prepare(self, intended: str, mode: str) -> str:
        if mode == "replace":
            return mark_replace(intended, self.data["owned"])
        return as_config(intended)

    # -- interface
    def query(self, queries: list[str]) -> dict[str, Any]:
        """``rpc:<xml>``: an operational RPC (Junos ``<get-...-information/>``); otherwise a subtree
        filter for ``<get>`` (IOS-XE ``*-oper`` models). Answers are the reply's XML."""
        from lxml import etree

        answers: dict[str, Any] = {}
        try:
            for q in queries:
                if q.startswith("rpc:"):
                    answers[q] = etree.tostring(self.m.dispatch(_parse(q[4:])).data_ele, encoding="unicode")
                else:
                    answers[q] = self.m.get(filter=("subtree", q)).data_xml
        except OSError as exc:
            raise errors.ConnectionLostError(f"connection lost while reading state: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - ncclient RPCError and transport errors
            raise errors.TransportError(f"the device refused a state query: {self._rpc_error(exc)}") from None
        return answers

    def get_running(self) -> str:
        try:
            return self._get("running")
        except OSError as exc:
            raise errors.ConnectionLostError(f"connection lost while reading running: {exc}") from None

    def diff(self, intended: str, mode: str = "merge", previous: str | None = None) -> Change:
        from ncclient.operations import RPCError

        payload = self._prepare(intended, mode)
        self.secrets += extract_secrets(intended)
        try:
            with self.m.locked("candidate"):
                self.m.discard_changes()
                before = self._get("running")
                payload, acl_conflicts, notes = guard_facility_acls(payload, before, previous)
                try:
                    self.m.edit_config(target="candidate", config=payload, default_operation="merge")
                except RPCError as exc:
                    self.m.discard_changes()
                    raise errors.DeviceRejectedError(f"the device rejected the NETCONF payload: {self._rpc_error(exc)} "
                                              "(nothing was committed)", self._rpc_error(exc), rolled_back=True) from None
                after = self._get("candidate")
                self.m.discard_changes()
        except RPCError as exc:
            raise errors.TransportError(f"NETCONF lock/discard failed: {self._rpc_error(exc)}") from None
        b, a = _parse(before), _parse(after)
        lines = list(difflib.unified_diff(pretty_lines(b), pretty_lines(a), "running", "candidate", n=2, lineterm=""))
        paths = self.data["owned"] + self.data["shared"]
        eb, ea = entries(b, paths), entries(a, paths)
        commands = []
        for key, el in ea.items():
            if key not in eb:
                commands.append(f"create {key}")
            elif _canonical(el) != _canonical(eb[key]):
                commands.append(f"update {key}")
        commands += [f"delete {key}" for key in eb if key not in ea]
        if lines and not commands:
            commands.append("update (other leaves)")
        conflicts: list[str] = list(acl_conflicts)
        if mode == "merge":
            # last-applied records are masked: compare what stowpath applied with the masked device entry
            prev = entries(_parse(self.mask(as_config(previous))), self.data["owned"]) if previous else {}
            eb_masked = entries(_parse(self.mask(before)), self.data["owned"]) if previous else {}
            for key in entries(_parse(payload), self.data["owned"]):
                if key in eb and key in ea and _canonical(eb[key]) != _canonical(ea[key]):
                    if key not in prev or _canonical(prev[key]) != _canonical(eb_masked.get(key, eb[key])):
                        conflicts.append(key)
        return Change(text_diff=self.mask("\n".join(lines) + ("\n" if lines else "")),
                      commands=[self.mask(c) for c in commands], payload=payload, conflicts=conflicts,
                      notes=notes, scope=sorted(ea), running=before)

    def apply(self, change: Change, confirm_timeout: int, token: str) -> dict[str, Any]:
        from ncclient.operations import RPCError

        if not token:
            raise errors.TransportError("a NETCONF push needs a token (persist id)")
        try:
            with self.m.locked("candidate"):
                self.m.discard_changes()
                try:
                    self.m.edit_config(target="candidate", config=change.payload, default_operation="merge")
                    self.m.commit(confirmed=True, timeout=str(int(confirm_timeout)), persist=token)
                except RPCError as exc:
                    self.m.discard_changes()
                    msg = self._rpc_error(exc)
                    raise errors.DeviceRejectedError(f"the device rejected the change: {msg} (candidate discarded, running "
                                              "unchanged)", msg, rolled_back=True) from None
        except errors.DeviceRejectedError:
            raise
        except RPCError as exc:
            raise errors.TransportError(f"NETCONF lock failed (another session holds the candidate?): "
                                 f"{self._rpc_error(exc)}") from None
        except OSError as exc:
            raise errors.ConnectionLostError(f"connection lost during the push ({exc}); if the commit reached the device "
                                      f"it rolls back by itself after {confirm_timeout} s") from None
        return {"persist_id": token}

    def confirm(self, pending: dict[str, Any]) -> None:
        from ncclient.operations import RPCError

        try:
            self.m.commit(persist_id=pending["persist_id"])
        except RPCError as exc:
            raise errors.ConfirmExpiredError(
                f"the device has no pending confirmed commit {pending['persist_id']}: the confirm timeout "
                f"passed and the device rolled back ({self._rpc_error(exc)})", rolled_back=True) from None

    def rollback(self, pending: dict[str, Any]) -> str:
        from ncclient.operations import RPCError

        try:
            self.m.cancel_commit(persist_id=pending["persist_id"])
        except RPCError:
            return "the device had already rolled back by itself (confirm timeout passed)"
        return "cancel-commit: the device restored its previous running configuration"

    def recover(self, pending: dict[str, Any]) -> str:
        if not pending.get("persist_id"):
            return "nothing was committed"
        return self.rollback(pending)

    def close(self) -> None:
        try:
            self.m.close_session()
        except Exception:  # noqa: BLE001
            pass
