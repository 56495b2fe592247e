"""ADF 1.0 reader: real-world-shaped documents parse into the intake schema; hostile XML is refused."""

from __future__ import annotations

import contextlib
import socket
import time
from decimal import Decimal
from pathlib import Path

import pytest

from sync.inbound.adf import AdfError, parse_adf
from sync.inbound.schema import IntakeSerializer

SAMPLES = Path(__file__).parent / "adf_samples"


def _validated(name: str) -> IntakeSerializer:
    serializer = IntakeSerializer(data=parse_adf((SAMPLES / name).read_bytes()))
    assert serializer.is_valid(), serializer.errors
    return serializer


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.xml")), ids=lambda p: p.name)
def test_every_valid_sample_parses_and_validates(path: Path) -> None:
    intake = _validated(path.name).to_intake()
    assert intake.customer["last_name"] or intake.customer["company"]
    assert intake.customer["email"] or intake.customer["phone"] or intake.customer["mobile"]


def test_full_configurator_lead() -> None:
    intake = _validated("configurator_full.xml").to_intake()
    assert intake.source == "configurator"
    assert intake.external_reference == "CFG-2026-000123"
    assert intake.dealer_number == "20001"
    customer = intake.customer
    assert (customer["first_name"], customer["last_name"]) == ("Erika", "Musterfrau")
    assert customer["email"] == "erika.musterfrau@kunde.example"
    assert (customer["phone"], customer["mobile"]) == ("+49891234567", "+491701234567")  # fax ignored
    assert (customer["street"], customer["postcode"], customer["city"]) == ("Leopoldstraße 10", "80802", "München")
    lead = intake.lead
    assert (lead["model_name"], lead["trim"], lead["powertrain"]) == ("R5 E-Tech", "techno", "electric")
    assert lead["configuration_code"] == "R5ETECH-7Q2X"
    assert lead["list_price"] == Decimal("32900.00")
    assert lead["financing_interest"] is True
    assert lead["lead_type"] == "new_car"
    assert lead["message"] == "Farbe: Pop Yellow\nBitte Angebot mit Leasing.\nTimeframe: innerhalb von 3 Monaten"


def test_used_car_from_a_portal_with_trade_in_and_full_name() -> None:
    intake = _validated("portal_used_tradein.xml").to_intake()
    assert intake.source == "portal"
    customer, lead = intake.customer, intake.lead
    assert (customer["first_name"], customer["last_name"]) == ("Jürgen", "Müller")  # "Müller, Jürgen"
    assert customer["phone"] == "+49301234567"
    assert customer["street"] == "Unter den Linden Hinterhaus 5a"
    assert (lead["vehicle_condition"], lead["lead_type"], lead["vin"]) == ("used", "used_car", "VF1RHN00012345678")
    assert lead["stock_number"] == "GW-4711"
    assert lead["list_price"] == Decimal("29990")
    assert (lead["tradein_make"], lead["tradein_model"]) == ("Volkswagen", "Golf")
    assert lead["tradein_mileage"] == 96561  # 60000 miles
    assert lead["tradein_first_registration"].year == 2015


def test_latin1_namespaced_document_with_unknown_elements() -> None:
    intake = _validated("messy_latin1_namespaced.xml").to_intake()
    customer = intake.customer
    assert (customer["salutation"], customer["first_name"], customer["last_name"]) == ("ms", "Gül", "Öztürk")
    assert customer["email"] == "guel.oeztuerk@kunde.example"  # the blank first <email> is skipped
    assert customer["mobile"] == "+491719876543"
    assert customer["city"] == "Köln"
    assert intake.source == "test_drive_form"
    assert intake.lead["lead_type"] == "test_drive"
    assert intake.lead["model_name"] == "Scénic E-Tech"


def test_primary_contact_of_a_business_customer() -> None:
    intake = _validated("business_two_contacts.xml").to_intake()
    customer = intake.customer
    assert (customer["company"], customer["first_name"], customer["last_name"]) == (
        "Bäckerei Schmidt GmbH",
        "Anna",
        "Schmidt",
    )
    assert customer["title"] == "Dr."
    assert customer["email"] == "einkauf@baeckerei-schmidt.example"
    assert intake.source == "call_centre"
    assert intake.lead["financing_interest"] is True  # interest="lease"
    assert intake.lead["list_price"] == Decimal("41000")


def test_minimal_document_splits_a_full_name() -> None:
    intake = _validated("minimal.xml").to_intake()
    assert (intake.customer["first_name"], intake.customer["last_name"]) == ("Max", "Mustermann")
    assert intake.lead["model_name"] == ""
    assert intake.source == "portal"


@pytest.mark.parametrize("path", sorted((SAMPLES / "hostile").glob("*.xml")), ids=lambda p: p.name)
def test_hostile_xml_is_refused_quickly_without_expanding(path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(AdfError) as error:
        parse_adf(path.read_bytes())
    assert "not allowed" in error.value.message
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"", "body", "Not well-formed"),
        (b"<adf><prospect>", "body", "Not well-formed"),
        (b"<lead/>", "body", "root element"),
        (b"<adf/>", "prospect", "no <prospect>"),
        (b"<adf><prospect/><prospect/></adf>", "prospect", "one <prospect>"),
        (b"<adf><prospect><customer/></prospect></adf>", "customer", "no <customer><contact>"),
    ],
)
def test_unreadable_documents_name_the_problem(body: bytes, field: str, words: str) -> None:
    with pytest.raises(AdfError) as error:
        parse_adf(body)
    assert error.value.field == field
    assert words in error.value.message


def test_invalid_values_become_field_errors_of_the_shared_schema() -> None:
    body = (
        b"<adf><prospect><vehicle><vin>123</vin></vehicle><customer><contact><name part='last'>X</name>"
        b"<email>not-an-email</email><address><postalcode>8033</postalcode></address></contact></customer>"
        b"</prospect></adf>"
    )
    serializer = IntakeSerializer(data=parse_adf(body))
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"customer", "vehicle"}
    assert set(serializer.errors["customer"]) == {"email"}
    assert set(serializer.errors["vehicle"]) == {"vin"}


# --- ADF as senders write it: the prolog, DOCTYPEs, entities, names (issue 11) ---

_LEAD = (
    b'<adf><prospect><customer><contact><name part="full">Max Mustermann</name><email>max@kunde.example</email>'
    b"<address><postalcode>80331</postalcode><city>M\xc3\xbcnchen</city></address></contact></customer>"
    b"</prospect></adf>"
)


@pytest.mark.parametrize(
    "prolog",
    [
        b"<!DOCTYPE adf>\n",
        b'<?xml version="1.0"?>\n<!DOCTYPE adf SYSTEM "adf.dtd">\n',
        b"<!DOCTYPE adf SYSTEM 'dtd/adf-1.0.dtd'>\n",
        b'<!DOCTYPE adf PUBLIC "-//ADF//DTD ADF 1.0//EN" "adf.dtd">\n',
        b"<!doctype adf>\n",
        b'<?ADF VERSION "1.0"?>\n<?XML VERSION "1.0"?>\n',  # the ADF 1.0 spec's own header
        b'<?ADF VERSION "1.0"?>\n<?XML VERSION \xe2\x80\x9c1.0\xe2\x80\x9d?>\n',  # ... with its typographic quotes
        b'<?XML VERSION "1.0"?>\n<?ADF VERSION "1.0"?>\n',
        b'<?ADF VERSION="1.0"?>\n',
        b"<? adf version 1.0 ?>\n",  # no PI target at all
        b'<!-- exported 2026-05-06 -->\n<?xml version="1.0" encoding="UTF-8"?>\n',
        b'\n   <?xml version="1.0"?>\n',
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\r\n<?adf version="1.0"?>\r\n',
        b'\xef\xbb\xbf<!-- BOM, then a comment -->\r\n<?xml version="1.0"?>\r\n<!DOCTYPE adf>\r\n',
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?>',
    ],
)
def test_prologs_as_senders_write_them_are_read(prolog: bytes) -> None:
    data = parse_adf(prolog + _LEAD)
    assert (data["customer"]["first_name"], data["customer"]["last_name"]) == ("Max", "Mustermann")
    assert data["customer"]["city"] == "München"


def test_an_encoding_declared_after_a_comment_in_the_spec_spelling_is_still_used() -> None:
    body = b'<!-- gateway -->\r\n<?XML VERSION="1.0" ENCODING="ISO-8859-1"?>\r\n' + _LEAD.replace(
        "München".encode(), "München".encode("latin-1")
    )
    assert parse_adf(body)["customer"]["city"] == "München"


def test_crlf_line_ends_inside_text_read_as_single_spaces() -> None:
    body = _LEAD.replace(b"Max Mustermann", b"Max\r\n  Mustermann").replace(b"><", b">\r\n<")
    assert parse_adf(body)["customer"]["last_name"] == "Mustermann"


def test_the_parser_reports_line_numbers_of_the_document_as_received() -> None:
    body = b'<!-- one -->\n<?XML VERSION "1.0"?>\n<!DOCTYPE adf>\n<adf>\n<prospect>\n</adf>\n'
    with pytest.raises(AdfError) as error:
        parse_adf(body)
    assert "line 6" in error.value.message  # the mismatched </adf>, counted in the body as sent


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="\xc3\xbctf-8"?>' + _LEAD,
        b'<?XML VERSION "1.0" ENCODING ""?>' + _LEAD,
        b'<?xml version="1.0" encoding="no-such-codec"?>' + _LEAD,
    ],
    ids=["non-ascii", "empty", "unknown"],
)
def test_an_unreadable_declared_encoding_is_refused_not_guessed(body: bytes) -> None:
    with pytest.raises(AdfError) as error:
        parse_adf(body)
    assert "encoding" in error.value.message


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE adf [<!ENTITY dealer "Autohaus">]>',
        b"<!DOCTYPE adf []>",
        b'<!doctype adf [<!ENTITY x "y">]>',
        b'<!DOCTYPE adf SYSTEM "adf.dtd" [<!ENTITY x "y">]>',
        b'<?ADF VERSION "1.0"?><?XML VERSION "1.0"?><!-- c --><!DOCTYPE adf [<!ENTITY x "y">]>',
        b'<!DOCTYPE adf SYSTEM "http://127.0.0.1:9/adf.dtd">',
        b'<!DOCTYPE adf SYSTEM "file:///etc/passwd">',
        b'<!DOCTYPE adf SYSTEM "/etc/adf.dtd">',
        b'<!DOCTYPE adf PUBLIC "-//ADF//DTD ADF 1.0//EN" "https://127.0.0.1:9/adf.dtd">',
        b'<!DOCTYPE adf SYSTEM "adf.dtd"><!DOCTYPE adf [<!ENTITY x "y">]>',  # a second one behind a bare one
    ],
)
def test_a_doctype_that_declares_or_points_anywhere_is_refused(doctype: bytes) -> None:
    with pytest.raises(AdfError) as error:
        parse_adf(doctype + _LEAD.replace(b"Mustermann", b"&x;" if b"ENTITY x" in doctype else b"Mustermann"))
    assert error.value.field == "body"
    assert "not allowed" in error.value.message


def test_a_dtd_named_by_url_is_never_fetched() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        for doctype in (f'<!DOCTYPE adf SYSTEM "http://127.0.0.1:{port}/adf.dtd">', "<!DOCTYPE adf>"):
            with contextlib.suppress(AdfError):
                parse_adf(doctype.encode() + _LEAD)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"M\xc3\xbcller & S\xc3\xb6hne", "Müller & Söhne"),
        (b"A &amp; B &lt;C&gt;", "A & B <C>"),
        (b"GW&nbsp;4711 &euro; &auml;", "GW 4711 € ä"),
        (b"&#246; &#xE4;", "ö ä"),
        (b"<![CDATA[a & b &nbsp; <c>]]>", "a & b &nbsp; <c>"),  # CDATA is text as it stands
        (b"AT&T, R&D", "AT&T, R&D"),
    ],
)
def test_ampersands_and_html_entities_in_text_are_read_as_senders_meant_them(text: bytes, expected: str) -> None:
    body = _LEAD.replace(b"</contact>", b"</contact><comments>" + text + b"</comments>")
    assert parse_adf(body)["message"] == expected


def test_an_unknown_entity_is_refused_as_not_well_formed() -> None:
    with pytest.raises(AdfError) as error:
        parse_adf(_LEAD.replace(b"Mustermann", b"&mustermann;"))
    assert "undefined entity" in error.value.message


def test_a_bare_ampersand_in_an_attribute_is_read() -> None:
    body = _LEAD.replace(b"<prospect>", b'<prospect><id source="Autohaus M&S">X-1</id>')
    assert parse_adf(body)["external_reference"] == "X-1"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (b'<name part="first">Erika</name><name part="last">Musterfrau</name>', ("", "", "Erika", "Musterfrau")),
        (b'<NAME PART="FIRST">Erika</NAME><NAME PART="SURNAME">Musterfrau</NAME>', ("", "", "Erika", "Musterfrau")),
        (
            b'<name part="first">Erika</name><name part="middle">Maria</name><name part="last">Musterfrau</name>',
            ("", "", "Erika Maria", "Musterfrau"),
        ),
        (
            b'<name part="first"></name><name part="first">Erika</name><name part="last">M</name>',
            ("", "", "Erika", "M"),
        ),
        (b'<name part="full">Erika Musterfrau</name>', ("", "", "Erika", "Musterfrau")),
        (b"<name>Erika Maria Musterfrau</name>", ("", "", "Erika Maria", "Musterfrau")),
        (b"<name>Musterfrau, Erika</name>", ("", "", "Erika", "Musterfrau")),
        (b"<name>Frau Dr. Erika Musterfrau</name>", ("Frau", "Dr.", "Erika", "Musterfrau")),
        (b"<name>Herr Prof. Dr.-Ing. Max Mustermann</name>", ("Herr", "Prof. Dr.-Ing.", "Max", "Mustermann")),
        (b"<name>Musterfrau</name>", ("", "", "", "Musterfrau")),
        (
            b'<name part="prefix">Herr</name><name part="first">Max</name><name part="last">Muster</name>',
            ("Herr", "", "Max", "Muster"),
        ),
        (b'<name part="title">Dr.</name><name>Frau Erika Muster</name>', ("Frau", "Dr.", "Erika", "Muster")),
        (b"<name>Herr</name>", ("", "", "", "Herr")),  # one word is the name, whatever it says
    ],
)
def test_name_parts_split_or_whole(names: bytes, expected: tuple[str, str, str, str]) -> None:
    body = (
        b"<adf><prospect><customer><contact>"
        + names
        + b"<email>e@kunde.example</email></contact></customer></prospect></adf>"
    )
    customer = parse_adf(body)["customer"]
    got = (customer.get("salutation", ""), customer.get("title", ""), customer["first_name"], customer["last_name"])
    assert got == expected


def test_contact_details_as_providers_send_them() -> None:
    body = (
        b"<adf><prospect><customer><contact><name>Max Mustermann</name>"
        b"<email>MAILTO:max@kunde.example</email>"
        b'<phone type="voice">n/a</phone><phone type="home">089 123456</phone><phone type="cell">0170 1234567</phone>'
        b"<address><postalcode>D-80331</postalcode><country>Deutschland</country></address>"
        b"</contact></customer></prospect></adf>"
    )
    customer = parse_adf(body)["customer"]
    assert customer["email"] == "max@kunde.example"
    assert (customer["phone"], customer["mobile"]) == ("089 123456", "0170 1234567")  # "n/a" is no number
    assert (customer["postcode"], customer["country"]) == ("80331", "DE")


def test_unknown_elements_anywhere_are_ignored() -> None:
    body = (
        b'<adf><meta v="1"/><prospect><leadtype>x</leadtype><customer><extra><contact/></extra><contact>'
        b'<name part="last">M</name><hobby><email>no@kunde.example</email></hobby><email>m@kunde.example</email>'
        b"<address><geo/><postalcode>80331</postalcode></address></contact><score>9</score></customer>"
        b"<vehicle><model>Clio</model><warranty/></vehicle><audit/></prospect><trailer/></adf>"
    )
    data = parse_adf(body)
    assert (data["customer"]["last_name"], data["customer"]["email"]) == ("M", "m@kunde.example")
    assert data["vehicle"]["model"] == "Clio"


def test_the_spec_header_document_without_address_reads_its_contact() -> None:
    data = parse_adf((SAMPLES / "spec_header_no_address.xml").read_bytes())
    customer = data["customer"]
    assert (customer["first_name"], customer["last_name"], customer["phone"]) == ("Max", "Mustermann", "0911 4711 0815")
    assert "postcode" not in customer
    assert "dealer_number" not in data  # the vendor is only named: routed by nothing yet
    assert data["vehicle"]["model"] == "Clio"


def test_full_spec_tag_set_behind_a_system_doctype() -> None:
    intake = _validated("doctype_system_full_spec_tags.xml").to_intake()
    customer, lead = intake.customer, intake.lead
    assert (customer["first_name"], customer["last_name"], customer["city"]) == ("Sabine Maria", "Becker", "Köln")
    assert (customer["phone"], customer["mobile"]) == ("+492219876543", "+491712345678")
    assert intake.dealer_number == "20001"
    assert (lead["model_name"], lead["configuration_code"], lead["list_price"]) == (
        "Mégane E-Tech",
        "MEG-AB12",
        Decimal("44990.00"),
    )
    assert lead["financing_interest"] is True
    assert lead["message"].endswith("Timeframe: in den nächsten Wochen (2026-05-15 to 2026-06-30)")


def test_windows_1252_document_with_the_declaration_after_a_comment() -> None:
    intake = _validated("windows1252_public_doctype_old_postcode.xml").to_intake()
    customer = intake.customer
    assert (customer["first_name"], customer["last_name"]) == ("Käthe", "Weiß")
    assert (customer["postcode"], customer["city"], customer["country"]) == ("70173", "Stuttgart", "DE")
    assert intake.lead["message"] == "Gewerbekunde, 2 Fahrzeuge \u2013 Rückruf erbeten"
    assert intake.source == "call_centre"


def test_dealer_system_export_with_unknown_elements_and_entities() -> None:
    intake = _validated("dms_export_unknown_elements_entities.xml").to_intake()
    customer, lead = intake.customer, intake.lead
    assert (customer["first_name"], customer["last_name"]) == ("Jürgen", "Müller")
    assert customer["email"] == "juergen.mueller@kunde.example"
    assert (customer["phone"], customer["mobile"]) == ("+49301234567", "+4915111122233")
    assert customer["street"] == "Friedrichstraße 100 Aufgang B"
    assert (lead["stock_number"], lead["list_price"]) == ("GW 1022", Decimal("23450"))
    assert lead["message"] == "Fragt nach Inzahlungnahme & Finanzierung\nKunde seit 2015 & sehr zufrieden"


def test_bom_comment_and_cdata_document() -> None:
    intake = _validated("bom_comment_before_declaration_cdata.xml").to_intake()
    customer = intake.customer
    assert (customer["salutation"], customer["title"], customer["first_name"], customer["last_name"]) == (
        "mr",
        "Dr.",
        "Thomas",
        "Wagner",
    )
    assert intake.lead["message"] == "Wünscht Rückruf <nach 17 Uhr> & Angebot"
    assert intake.source == "event"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_document_with_a_byte_order_mark_is_read_like_utf8(codec: str) -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?>\r\n<!DOCTYPE adf>\r\n' + _LEAD.decode().replace("Max", "M&auml;x")
    body = text.encode(codec)
    if codec != "utf-16":  # the plain codec writes its own byte order mark
        body = ("\ufeff" + text).encode(codec)
    data = parse_adf(body)
    assert (data["customer"]["first_name"], data["customer"]["city"]) == ("Mäx", "München")


def test_a_broken_utf16_document_is_refused_naming_the_encoding() -> None:
    with pytest.raises(AdfError) as error:
        parse_adf(b"\xff\xfe<\x00a\x00\x00\xd8")
    assert "UTF-16" in error.value.message


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("Deutschland", "DE"),
        ("Niederlande", "NL"),
        ("Belgium", "BE"),
        ("pl", "PL"),
        ("POL", "PL"),
        ("", "DE"),
        ("ZZ", "DE"),
        ("Atlantis", "DE"),
    ],  # an unknown one is left out: the lead still lands
)
def test_a_country_is_read_as_senders_write_it(country: str, expected: str) -> None:
    """Only Germany, Austria and Switzerland were known by name; a customer from Venlo lost the country."""
    body = (
        '<?xml version="1.0"?><adf><prospect><customer><contact><name part="full">Jan de Vries</name>'
        "<email>jan@example.nl</email><address><street>Markt 1</street><city>Venlo</city>"
        f"<country>{country}</country></address></contact></customer></prospect></adf>"
    ).encode()
    serializer = IntakeSerializer(data=parse_adf(body))
    assert serializer.is_valid(), serializer.errors
    assert serializer.to_intake().customer["country"] == expected


def test_an_unknown_country_is_a_field_error_of_the_shared_schema() -> None:
    serializer = IntakeSerializer(data={"source": "website", "customer": {"last_name": "X", "email": "x@example.org",
                                                                          "country": "ZZ"}})  # fmt: skip
    assert not serializer.is_valid()
    assert "country" in serializer.errors["customer"]
