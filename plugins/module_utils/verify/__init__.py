"""Verification logic shared by the modules tunnel_status, bgp_status, path_check and firewall_check.

Platform drivers (``platforms/<platform>.py``) turn device output into the neutral shapes described
in :mod:`.model`; the evaluators here compare them with what the site model expects and return
``checks`` (``checks.py``) plus structured facts.
"""
