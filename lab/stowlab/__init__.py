"""The stowpath network lab as a package; ``lab/lab.py`` is its command line.

Modules, each one concern:

- ``topology``: paths, addresses and the devices (namespaces) the lab is made of;
- ``host``: small process, file and namespace helpers (``run``, ``write``, ``locked``, PIDs);
- ``params``: fresh vendor-side parameters (PSKs, inside CIDRs, IDs);
- ``configs``: the devices' configuration files, rendered from ``lab/templates/``;
- ``vendor_files``: the files the vendor hands over (AWS VPN XML, DX JSON) and the fleet inventory;
- ``netns``: device trees, namespaces, veths, booting devices, running commands inside them;
- ``services``: the cloud DICOMweb service and the on-prem PACS started by ``up``;
- ``health``: health rows, the cloud's view of tunnels and BGP, ``status``;
- ``lifecycle``: ``up``, ``down``, ``cloud-break``, ``cloud-repair``;
- ``reference``: a hand-written, known-good customer configuration for the lab's gateways;
- ``control``: the lab driven as a program (``lab/lab.py`` in a subprocess), for tests and benchmarks;
- ``cli``: the argument parser behind ``lab/lab.py``.
"""
