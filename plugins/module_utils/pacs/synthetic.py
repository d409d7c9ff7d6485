"""Synthetic test studies for the PACS: the one generator is :mod:`..dicomweb.synth`."""

from __future__ import annotations

from ..dicomweb.synth import PATIENT_NAME, SyntheticStudy, make_study

__all__ = ["PATIENT_NAME", "SyntheticStudy", "make_study"]
