"""Synthetic, obviously fake DICOM test studies (Secondary Capture, random UIDs every call).

The patient can never be mistaken for a person: name ``STOWPATH^TEST^SYNTHETIC``, ID ``STOWPATH-TEST``.
pydicom is imported lazily so the rest of the package works where pydicom is absent.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

PATIENT_NAME = "STOWPATH^TEST^SYNTHETIC"
PATIENT_ID = "STOWPATH-TEST"
STUDY_DESCRIPTION = "STOWPATH SYNTHETIC TEST STUDY - NOT A PATIENT"


@dataclass
class SyntheticStudy:
    """UIDs of one generated study and the encoded Part-10 files (``instances``)."""

    study_uid: str
    series_uid: str
    sop_uids: list[str] = field(default_factory=list)
    instances: list[bytes] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        return sum(len(b) for b in self.instances)


def make_study(instances: int = 1, rows: int = 64, columns: int = 64, description: str = STUDY_DESCRIPTION) -> SyntheticStudy:
    """Build ``instances`` Secondary Capture instances of one new study (fresh random UIDs)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.filewriter import dcmwrite
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        SecondaryCaptureImageStorage,
        generate_uid,
    )

    if instances < 1:
        raise ValueError("instances must be >= 1")
    now = datetime.now(UTC)
    study = SyntheticStudy(study_uid=generate_uid(), series_uid=generate_uid())
    pixels = bytes((i * 7) % 256 for i in range(rows * columns))
    for number in range(1, instances + 1):
        sop_uid = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = SecondaryCaptureImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyInstanceUID = study.study_uid
        ds.SeriesInstanceUID = study.series_uid
        ds.PatientName = PATIENT_NAME
        ds.PatientID = PATIENT_ID
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyDate = now.strftime("%Y%m%d")
        ds.StudyTime = now.strftime("%H%M%S")
        ds.StudyID = "STOWPATH"
        ds.AccessionNumber = "STOWPATHTEST"
        ds.StudyDescription = description
        ds.SeriesDescription = "SYNTHETIC"
        ds.Modality = "OT"
        ds.ConversionType = "SYN"
        ds.SeriesNumber = 1
        ds.InstanceNumber = number
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = columns
        ds.BitsAllocated = 8
        ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
        ds.PixelData = pixels
        buf = io.BytesIO()
        dcmwrite(buf, ds, enforce_file_format=True)
        study.sop_uids.append(sop_uid)
        study.instances.append(buf.getvalue())
    return study
