"""The QR e-codes (电子社保卡二维码 and the transit ride code 乘车码): payload, issuance, verification.

Its own package below the back-end and the devices, because both use it: the platform issues codes
and verifies them online, a terminal verifies them offline from the key chain it holds. The layout
and windows are profiles/national/ecode.yaml (modelled on the field ride code).
"""

from .issue import CertificateAuthority, Issuer, display
from .layout import Authorisation, ECode, IssuerCertificate, MalformedCode, epoch_seconds, holder_binding
from .verify import CaKey, KeyChain, MemoryReplayLog, Reason, ReplayLog, Verdict, first_scan, read, verify

__all__ = [
    "Authorisation",
    "CaKey",
    "CertificateAuthority",
    "ECode",
    "Issuer",
    "IssuerCertificate",
    "KeyChain",
    "MalformedCode",
    "MemoryReplayLog",
    "Reason",
    "ReplayLog",
    "Verdict",
    "display",
    "epoch_seconds",
    "first_scan",
    "holder_binding",
    "read",
    "verify",
]
