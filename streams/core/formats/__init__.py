"""Access-log format parsers, one module per family; pure (no I/O, no clock).

``clf`` (Common/Combined and its nginx/Apache/Traefik/ingress-nginx layouts), ``haproxy``, ``aws`` (ALB,
classic ELB), ``envoy`` (Envoy/Istio text), ``jsonlogs`` (JSON families by their keys), ``envelope``
(Docker JSON, CRI, syslog), ``units`` (durations and epochs with explicit units), ``common`` (the
canonical-record contract). ``streams.core.decode`` owns the recognition order and the field rules.
"""
