"""Monitoring: what no standard exporter covers, as Prometheus metrics with stable names and ``site`` labels.

* :mod:`.metrics`  metric families and the text exposition format (standard library only, so the Linux
  gateway's collector runs with the system Python and writes for the node exporter's textfile collector);
* :mod:`.network`  IPsec (IKE/CHILD SA state, bytes, packets, age) and BGP / cloud prefix state, from the
  platform registry's state readers (VICI via swanctl on Linux; the router's transport on IOS-XE/Junos);
* :mod:`.canary`   the STOW-RS canary (upload one synthetic instance, confirm it with QIDO-RS);
* :mod:`.certs`    days until the client certificate and the cloud's server certificate expire;
* :mod:`.pacs`     PACS transfers to the cloud destination (jobs, last failure, backlog) through a PACS driver;
* :mod:`.gateway`  the gateway-side collector loop (textfile); :mod:`.exporter` the monitoring host's daemon.
"""
