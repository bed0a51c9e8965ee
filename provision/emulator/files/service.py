"""File service properties (Set/Get File Service Properties): the XML body, read and written.

The body is ``<StorageServiceProperties>`` with any of HourMetrics, MinuteMetrics, Cors,
ShareDeleteRetentionPolicy and ProtocolSettings (SMB: multichannel, versions, authentication
methods, Kerberos ticket and channel encryption). A Set replaces each element it sends and keeps
the others, as the service does; a Get answers every element, defaults where none was set.
Elements are kept as the client sent them (re-serialised), so settings the emulator has no rule
for (SMB versions, encryption lists) read back unchanged.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from provision.emulator.files.exceptions import FilesError

__all__ = ["ELEMENTS", "parse_service_properties", "render_service_properties"]

MAX_BODY_BYTES = 64 * 1024
MAX_CORS_RULES = 5
MAX_RETENTION_DAYS = 365
_OFF_METRICS = (
    "<Version>1.0</Version><Enabled>false</Enabled>"
    "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy>"
)
# Every element a Get answers, in the order of the REST reference, with its default.
ELEMENTS: dict[str, str] = {
    "HourMetrics": f"<HourMetrics>{_OFF_METRICS}</HourMetrics>",
    "MinuteMetrics": f"<MinuteMetrics>{_OFF_METRICS}</MinuteMetrics>",
    "Cors": "<Cors />",
    "ShareDeleteRetentionPolicy": (
        "<ShareDeleteRetentionPolicy><Enabled>false</Enabled></ShareDeleteRetentionPolicy>"
    ),
    "ProtocolSettings": (
        "<ProtocolSettings><SMB><Multichannel><Enabled>false</Enabled></Multichannel>"
        "</SMB></ProtocolSettings>"
    ),
}


def _invalid_xml(message: str = "XML specified is not syntactically valid.") -> FilesError:
    return FilesError(message, status=400, code="InvalidXmlDocument")


def _invalid_value(node: str, value: str) -> FilesError:
    return FilesError(
        "The value for one of the XML nodes is not in the correct format.",
        status=400,
        code="InvalidXmlNodeValue",
        detail={"XmlNodeName": node, "XmlNodeValue": value},
    )


def _check_retention(element: ET.Element) -> None:
    enabled = (element.findtext("Enabled") or "").strip().lower()
    if enabled not in ("true", "false"):
        raise _invalid_value("Enabled", enabled)
    days = (element.findtext("Days") or "").strip()
    if enabled == "true" and (not days.isdigit() or not 1 <= int(days) <= MAX_RETENTION_DAYS):
        raise _invalid_value("Days", days)


def parse_service_properties(body: bytes) -> dict[str, str]:
    """The elements of a Set File Service Properties body, each as XML; FilesError if bad."""
    if len(body) > MAX_BODY_BYTES:
        raise FilesError("The request body is too large.", status=413, code="RequestBodyTooLarge")
    if b"<!DOCTYPE" in body.upper():
        raise _invalid_xml()
    try:
        root = ET.fromstring(body)  # noqa: S314 - no DTD (checked above), bounded size
    except ET.ParseError:
        raise _invalid_xml() from None
    if root.tag != "StorageServiceProperties":
        raise _invalid_xml("The root element is not StorageServiceProperties.")
    elements: dict[str, str] = {}
    for child in root:
        if child.tag not in ELEMENTS:
            raise _invalid_xml(f"The element {child.tag} is not a file service property.")
        if child.tag == "Cors" and len(child.findall("CorsRule")) > MAX_CORS_RULES:
            raise _invalid_xml("No more than five CORS rules can be set.")
        if child.tag == "ShareDeleteRetentionPolicy":
            _check_retention(child)
        child.tail = None
        elements[child.tag] = ET.tostring(child, encoding="unicode")
    return elements


def render_service_properties(stored: dict[str, str]) -> str:
    """The Get File Service Properties body (without the XML declaration)."""
    parts = "".join(stored.get(name, default) for name, default in ELEMENTS.items())
    return f"<StorageServiceProperties>{parts}</StorageServiceProperties>"
