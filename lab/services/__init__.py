"""Real services of the lab: the PKI (pki.py) and the cloud DICOMweb service (cloud_dicomweb.py)."""
