"""ADF 1.0 (Auto-lead Data Format) reader: a lead in XML, read into the intake JSON shape.

Safe: a DOCTYPE with an internal subset or a DTD by URL is refused while the prolog is read,
and ``defusedxml`` then parses with DTDs, entity declarations and external references forbidden,
so an entity bomb (billion laughs), external entities (XXE) and DTD fetches are refused before
any expansion; nothing ever goes to the network. Tolerant, as real senders are: the prolog is
made plain XML first (the spec's own ``<?XML VERSION "1.0"?>`` after ``<?ADF VERSION "1.0"?>``,
comments before the declaration, a bare ``<!DOCTYPE adf>`` or one naming a local ``adf.dtd``,
which is dropped unread); a bare ``&`` and HTML entities such as ``&nbsp;`` are read as text.
Namespaces, upper case tags, unknown elements, missing optional elements, name parts or one
full name, several phones with ``type`` attributes, several e-mail addresses, prices in German
or English notation are all fine.
A document is read into the dict that ``sync.inbound.schema.IntakeSerializer`` validates, so
both formats share one set of field checks.
"""

from __future__ import annotations

import re
from html.entities import name2codepoint
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from crm.countries import country_code
from sync.inbound.schema import POWERTRAINS, SALUTATIONS

__all__ = ["AdfError", "parse_adf"]


class AdfError(ValueError):
    """The document cannot be read as ADF; ``field`` names where (``body`` for the document as a whole)."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# provider/service keywords -> intake source
_SOURCE_KEYWORDS: list[tuple[str, str]] = [
    (r"konfigurator|configurator|builder", "configurator"),
    (r"probefahrt|test.?drive", "test_drive_form"),
    (r"call.?cent|callcenter|hotline", "call_centre"),
    (r"event|messe|fair|show", "event"),
    (r"website|homepage|web form|webform|kontaktformular", "website"),
]
_TRADE_IN = {"trade-in", "tradein", "trade in", "sell"}
_MOBILE_TYPES = {"cellphone", "cell", "mobile", "handy", "mobil"}
_IGNORED_PHONE_TYPES = {"fax", "pager"}
_NAME_PART_ALIASES = {"surname": "last", "given": "first", "firstname": "first", "lastname": "last"}
_ACADEMIC_TITLE = re.compile(r"(?i)(prof|dr|dipl)\.?(-[a-z]+\.?)*")  # Dr., Prof., Dr.-Ing., Dipl.-Kfm.


def _tag(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1].lower() if isinstance(element.tag, str) else ""


def _children(element: Element | None, name: str) -> list[Element]:
    if element is None:
        return []
    return [child for child in element if _tag(child) == name]


def _child(element: Element | None, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _text(element: Element | None) -> str:
    if element is None:
        return ""
    return re.sub(r"\s+", " ", "".join(element.itertext())).strip()


def _attr(element: Element, name: str) -> str:
    for key, value in element.attrib.items():
        if key.rsplit("}", 1)[-1].lower() == name:
            return value.strip().lower()
    return ""


def _price(text: str) -> str:
    """``29.990,00 €``, ``29,990.00``, ``29990`` -> ``29990.00``-style text; the schema checks the rest."""
    value = re.sub(r"[^\d.,-]", "", text)
    if not value:
        return ""
    if "," in value and "." in value:
        decimal = "," if value.rfind(",") > value.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        value = value.replace(thousands, "").replace(decimal, ".")
    elif "," in value:
        head, _sep, tail = value.rpartition(",")
        value = value.replace(",", "") if len(tail) == 3 else f"{head.replace(',', '')}.{tail}"
    elif value.count(".") > 1 or (value.count(".") == 1 and len(value.rpartition(".")[2]) == 3):
        value = value.replace(".", "")  # German thousands: 29.990
    return value


def _source(prospect: Element) -> str:
    provider = _child(prospect, "provider")
    text = " ".join(
        [_text(_child(provider, "service")), _text(_child(provider, "name")), _text(_child(provider, "url"))]
    ).lower()
    for pattern, source in _SOURCE_KEYWORDS:
        if re.search(pattern, text):
            return source
    return "portal"


def _full_name(full: str) -> dict[str, str]:
    """``Erika Musterfrau``, ``Musterfrau, Erika``, ``Frau Dr. Erika Musterfrau`` -> name fields."""
    words = full.split()
    salutation, titles = "", []
    while len(words) > 1:
        if not salutation and words[0].lower() in SALUTATIONS:
            salutation = words.pop(0)
        elif _ACADEMIC_TITLE.fullmatch(words[0]):
            titles.append(words.pop(0))
        else:
            break
    full = " ".join(words)
    if "," in full:
        last, _sep, first = (p.strip() for p in full.partition(","))
    else:
        first, last = " ".join(words[:-1]), words[-1] if words else ""
    return {"salutation": salutation, "title": " ".join(titles), "first": first, "last": last}


def _name(contact: Element) -> dict[str, str]:
    parts: dict[str, str] = {}
    company = ""
    for name in _children(contact, "name"):
        part = _attr(name, "part") or "full"
        part = _NAME_PART_ALIASES.get(part, part)
        if _attr(name, "type") == "business" and part == "full":
            company = company or _text(name)
        elif _text(name):
            parts.setdefault(part, _text(name))
    first, last = parts.get("first", ""), parts.get("last", "")
    if parts.get("middle") and first:
        first = f"{first} {parts['middle']}"
    if not (first or last) and parts.get("full"):
        split = _full_name(parts["full"])
        first, last = split["first"], split["last"]
        for key in ("salutation", "title"):
            if split[key]:
                parts.setdefault(key, split[key])
    result = {"first_name": first, "last_name": last, "company": company}
    for part in ("salutation", "prefix", "title"):
        value = parts.get(part, "")
        if value and value.lower() in SALUTATIONS:
            result.setdefault("salutation", value)
        elif value and part != "salutation":
            result.setdefault("title", value)  # "Dr." as a name prefix is an academic title
    return result


def _phones(contact: Element) -> dict[str, str]:
    phone = mobile = ""
    extra: list[str] = []
    for element in _children(contact, "phone"):
        number = _text(element)
        kind = _attr(element, "type") or "voice"
        if not re.search(r"\d", number) or kind in _IGNORED_PHONE_TYPES:  # "", "n/a", "-": no number given
            continue
        if kind in _MOBILE_TYPES:
            if not mobile:
                mobile = number
                continue
        elif not phone:
            phone = number
            continue
        extra.append(number)
    if not phone and extra:
        phone = extra[0]
    return {"phone": phone, "mobile": mobile}


def _address(contact: Element) -> dict[str, str]:
    address = _child(contact, "address")
    if address is None:
        return {}
    streets = sorted(_children(address, "street"), key=lambda s: _attr(s, "line") or "1")
    street = " ".join(_text(s) for s in streets if _text(s))
    apartment = _text(_child(address, "apartment"))
    if apartment:
        street = f"{street} {apartment}".strip()
    country = _text(_child(address, "country"))
    # A name or code the CRM does not know is left out (Germany, as before): not a reason to refuse a lead.
    country = country_code(country)
    postcode = _text(_child(address, "postalcode"))
    if country.upper() in ("", "DE"):
        postcode = re.sub(r"^(?i:de?)\s*-\s*(?=\d)", "", postcode)  # "D-80331", the old German postal style
    return {"street": street, "postcode": postcode, "city": _text(_child(address, "city")), "country": country}


def _contact(customer: Element | None) -> Element | None:
    contacts = _children(customer, "contact")
    if not contacts:
        return None
    return next((c for c in contacts if _attr(c, "primacy") == "1"), contacts[0])


def _vehicle(element: Element) -> dict[str, Any]:
    vehicle: dict[str, Any] = {
        "model": _text(_child(element, "model")),
        "trim": _text(_child(element, "trim")),
        "vin": _text(_child(element, "vin")),
        "stock_number": _text(_child(element, "stock")),
        "condition": "used" if _attr(element, "status") == "used" else "new",
    }
    code = next((_text(i) for i in _children(element, "id") if _text(i)), "")
    if code:
        vehicle["configuration_code"] = code
    fuel = _child(element, "fueltype")
    fuel = fuel if fuel is not None else _child(element, "fuel")
    powertrain = POWERTRAINS.get(_text(fuel).lower(), "")
    if powertrain:  # an unknown fuel type is left out rather than refusing the lead
        vehicle["powertrain"] = powertrain
    price = _child(element, "price")
    if price is not None and _price(_text(price)):
        vehicle["price"] = _price(_text(price))
    return vehicle


def _trade_in(element: Element) -> dict[str, Any]:
    trade_in: dict[str, Any] = {"make": _text(_child(element, "make")), "model": _text(_child(element, "model"))}
    year = _text(_child(element, "year"))
    if re.fullmatch(r"(19|20)\d\d", year):
        trade_in["first_registration"] = f"{year}-01-01"
    odometer = _child(element, "odometer")
    digits = re.sub(r"\D", "", _text(odometer))
    if odometer is not None and len(digits) > 9:
        trade_in["mileage"] = digits  # as text: the schema names it out of range (int() refuses 4300+ digits)
    elif odometer is not None and digits:
        mileage = int(digits)
        if _attr(odometer, "units") in ("mi", "miles"):
            mileage = round(mileage * 1.609344)
        trade_in["mileage"] = mileage
    return trade_in


_FORBIDDEN = "Entity declarations, DTD declarations and external references are not allowed in ADF documents."

# --- The prolog as senders write it, made plain XML before the strict parser sees the document ---
_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_PROLOG_SPACE = re.compile(rb"[ \t\r\n]+")
_PROLOG_COMMENT = re.compile(rb"<!--.*?-->", re.S)
_PROLOG_PI = re.compile(rb"<\?([^\s?]*)(.*?)\?>", re.S)  # <?xml ...?>, <?XML VERSION "1.0"?>, <?ADF VERSION "1.0"?>
_LITERAL = rb"\"[^\"]*\"|'[^']*'"
_DOCTYPE = re.compile(rb"<!DOCTYPE\s+[^\s\[>]+((?:\s+(?:SYSTEM|PUBLIC|" + _LITERAL + rb"))*+)\s*([\[>])", re.I)
_DOCTYPE_TOKEN = re.compile(rb"SYSTEM|PUBLIC|" + _LITERAL, re.I)
_ABSOLUTE_REFERENCE = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*:|[/\\]")  # a URL (http:, file:), a path from the root
# straight quotes, typographic ones in UTF-8 and in Windows-1252 (the ADF spec's example uses “1.0”)
_QUOTE = rb"(?:\"|'|\xe2\x80[\x98\x99\x9c\x9d]|[\x91-\x94])"
_ENCODING = re.compile(rb"encoding\s*=?\s*" + _QUOTE + rb"?([A-Za-z][A-Za-z0-9._-]*)(?=" + _QUOTE + rb"|\s|\Z)", re.I)

# --- Text as senders write it: a bare "&" ("Müller & Söhne") and HTML entities ("&nbsp;") ---
_AMPERSAND = re.compile(rb"&(#[0-9]+;|#x[0-9A-Fa-f]+;|[A-Za-z_][A-Za-z0-9._-]*;)?")
_XML_ENTITIES = {b"amp;", b"lt;", b"gt;", b"quot;", b"apos;"}


def _doctype(match: re.Match[bytes]) -> None:
    """Refuse a DOCTYPE that declares anything or points somewhere; a bare one is dropped, never read."""
    if match.group(2) == b"[":
        raise AdfError(f"{_FORBIDDEN} Send <!DOCTYPE adf> without an internal subset [...], or no DOCTYPE.")
    tokens = _DOCTYPE_TOKEN.findall(match.group(1))
    literals = [token[1:-1].strip() for token in tokens if token[:1] in (b'"', b"'")]
    public = bool(tokens) and tokens[0].upper() == b"PUBLIC"
    for system in literals[1:] if public else literals:  # a PUBLIC identifier names, it does not point
        if _ABSOLUTE_REFERENCE.match(system):
            shown = system[:100].decode("latin-1")
            raise AdfError(f"{_FORBIDDEN} The DOCTYPE points to an external DTD ({shown}); send <!DOCTYPE adf>.")


def _declared_encoding(declaration: bytes) -> bytes:
    if not re.search(rb"encoding", declaration, re.I):
        return b""
    found = _ENCODING.search(declaration)
    if found is None:
        raise AdfError("The XML declaration names an encoding that cannot be read.")
    return found.group(1)


def _plain_prolog(body: bytes, *, keep_encoding: bool = True) -> bytes:
    """The document with its prolog (what precedes the root element) rewritten as plain XML.

    Comments, processing instructions and a bare DOCTYPE are dropped (line breaks kept, so the
    parser's line numbers still match the document as received); an XML declaration in any
    spelling and place becomes a proper one at the start, keeping the encoding it names. A DOCTYPE
    with declarations or an external DTD raises ``AdfError``; anything unexpected is left for the
    strict parser to refuse. ``keep_encoding=False``: the body was transcoded to UTF-8, the declared
    encoding is dropped. Documents in UTF-16 without a byte order mark are left as they are.
    """
    position = len(_BOM) if body.startswith(_BOM) else 0
    if b"\x00" in body[position : position + 4]:
        return body
    encoding = b""
    breaks: list[bytes] = []
    while True:
        if match := _PROLOG_SPACE.match(body, position) or _PROLOG_COMMENT.match(body, position):
            pass
        elif match := _PROLOG_PI.match(body, position):
            if match.group(1).lower() == b"xml" and keep_encoding:
                encoding = encoding or _declared_encoding(match.group(2))
        elif match := _DOCTYPE.match(body, position):
            _doctype(match)
        else:
            break
        breaks += _LINE_BREAK.findall(match.group())
        position = match.end()
    declaration = b'<?xml version="1.0" encoding="' + encoding + b'"?>' if encoding else b""
    return body[: len(_BOM) if body.startswith(_BOM) else 0] + declaration + b"".join(breaks) + body[position:]


def _repair_ampersand(match: re.Match[bytes]) -> bytes:
    reference = match.group(1)
    if reference is None:
        return b"&amp;"
    if reference.startswith(b"#") or reference in _XML_ENTITIES:
        return match.group()
    codepoint = name2codepoint.get(reference[:-1].decode("ascii"))
    # an unknown name is left as it is: the parser refuses it as an undefined entity
    return b"&#%d;" % codepoint if codepoint is not None else match.group()


def _plain_ampersands(body: bytes) -> bytes:
    """A bare ``&`` escaped and HTML entities as character references, outside CDATA sections (one pass)."""
    if b"&" not in body or b"\x00" in body[:4]:  # ASCII-compatible encodings only: a UTF-16 "&" is two bytes
        return body
    parts: list[bytes] = []
    position = 0
    while position < len(body):
        cdata = body.find(b"<![CDATA[", position)
        text_end = len(body) if cdata < 0 else cdata
        parts.append(_AMPERSAND.sub(_repair_ampersand, body[position:text_end]))
        if cdata < 0:
            break
        close = body.find(b"]]>", cdata)
        position = len(body) if close < 0 else close + 3  # an unclosed CDATA section is the parser's to refuse
        parts.append(body[cdata:position])
    return b"".join(parts)


def _utf8(body: bytes) -> bytes | None:
    """A UTF-16 document with a byte order mark (Windows tools write them) as UTF-8; ``None`` for any other."""
    if not body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    try:
        return _BOM + body.decode("utf-16").encode("utf-8")
    except UnicodeDecodeError as error:
        raise AdfError(f"The document starts as UTF-16 but is not valid UTF-16 ({error.reason}).") from error


def _read(body: bytes) -> Element:
    transcoded = _utf8(body)
    body = _plain_prolog(body) if transcoded is None else _plain_prolog(transcoded, keep_encoding=False)
    body = _plain_ampersands(body)
    try:
        return SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as error:
        raise AdfError(_FORBIDDEN) from error
    except DefusedXmlException as error:
        raise AdfError("The XML document uses a construct that is not allowed.") from error
    except ParseError as error:
        raise AdfError(f"Not well-formed XML ({error}).") from error
    except (LookupError, ValueError) as error:  # expat: an unknown or a multi-byte encoding declared
        raise AdfError(f"The XML declares an encoding that cannot be read ({error}).") from error


def parse_adf(body: bytes) -> dict[str, Any]:
    """Read an ADF document into the intake JSON shape; ``AdfError`` when it is no readable ADF lead."""
    root = _read(body)
    if _tag(root) == "prospect":
        prospects = [root]
    elif _tag(root) == "adf":
        prospects = _children(root, "prospect")
    else:
        raise AdfError(f"The root element must be <adf>, not <{_tag(root)}>.")
    if not prospects:
        raise AdfError("The document holds no <prospect>.", field="prospect")
    if len(prospects) > 1:
        raise AdfError("Send one <prospect> per document.", field="prospect")
    prospect = prospects[0]

    customer_element = _child(prospect, "customer")
    contact = _contact(customer_element)
    if contact is None:
        raise AdfError("The prospect has no <customer><contact>.", field="customer")
    emails = [re.sub(r"^(?i:mailto:)\s*", "", _text(e)) for e in _children(contact, "email") if _text(e)]
    emails = [e for e in emails if e]
    customer: dict[str, Any] = {**_name(contact), "email": emails[0] if emails else "", **_phones(contact)}
    customer.update({k: v for k, v in _address(contact).items() if v})

    vehicles = _children(prospect, "vehicle")
    wanted = [v for v in vehicles if _attr(v, "interest") not in _TRADE_IN]
    trade_ins = [v for v in vehicles if _attr(v, "interest") in _TRADE_IN]
    messages: list[str] = []
    data: dict[str, Any] = {"source": _source(prospect), "customer": customer}
    if wanted:
        data["vehicle"] = _vehicle(wanted[0])
        interest = _attr(wanted[0], "interest")
        if interest == "test-drive":
            data["lead_type"] = "test_drive"
        if interest == "lease" or _child(wanted[0], "finance") is not None:
            data["financing_interest"] = True
        messages += [_text(c) for c in _children(wanted[0], "comments")]
    if trade_ins:
        data["trade_in"] = _trade_in(trade_ins[0])

    ids = [(_attr(i, "source"), _text(i)) for i in _children(prospect, "id") if _text(i)]
    if ids:
        data["external_reference"] = ids[0][1]
    vendor = _child(prospect, "vendor")
    numbers = [_text(i) for i in _children(vendor, "id") if re.fullmatch(r"\d{5}", _text(i))]
    if numbers:
        data["dealer_number"] = numbers[0]

    messages += [_text(c) for c in _children(customer_element, "comments")]
    timeframe = _child(customer_element, "timeframe")
    if timeframe is not None:
        dates = " to ".join(d for d in (_text(_child(timeframe, n)) for n in ("earliestdate", "latestdate")) if d)
        description = _text(_child(timeframe, "description"))
        if description and dates:
            description = f"{description} ({dates})"
        description = description or dates or _text(timeframe)
        if description:
            messages.append(f"Timeframe: {description}")
    data["message"] = "\n".join(m for m in messages if m)
    return data
