"""DICOMweb verification: TLS material, TLS/mTLS probe, STOW-RS and QIDO-RS probes.

- ``tls``: certificate/key facts and validation (cryptography), SSL contexts that ignore the
  environment's CA settings.
- ``client``: HTTPS connections (connect address override, timings), streaming requests and the
  classification of every failure into a cause and an action.
- ``target``: where and how a client reaches a service (URL, CA bundle, credentials, timeout), and
  ``renewal_summary`` (how each credential is renewed, for the report).
- ``auth_policy``: the ``dicomweb_auth`` site variable (mtls, basic, bearer, sigv4) and the variables each
  mode needs, checked with the site before any device is touched.
- ``oauth``: bearer tokens (static, or the OAuth 2.0 client-credentials grant), cached and refreshed.
- ``sigv4``: AWS SigV4 request signing (AWS HealthImaging) with botocore's signer.
- ``multipart``: ``multipart/related; type="application/dicom"`` bodies streamed from disk.
- ``synth``: synthetic, obviously fake Secondary Capture instances and studies (pydicom), on disk
  for the STOW-RS probe and in memory for the PACS send test.
- ``stow`` / ``qido``: STOW-RS upload and response parsing, QIDO-RS search (the only QIDO-RS client).
- ``probes``: the orchestration behind the ``tls_probe`` and ``stow_probe`` modules (checks).
- ``ansible_args``: argument spec pieces and result helpers of the DICOMweb and PACS modules.
"""
