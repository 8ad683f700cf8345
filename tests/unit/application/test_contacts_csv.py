"""Contact CSV files: decoding, delimiters, quoting, the column mapping, per-row errors, de-duplication and the
export format (application/use_cases/contacts/csv_format.py, csv_mapping.py, csv_rows.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from application.use_cases.contacts.csv_format import (
    check_delimiter,
    count_rows,
    decode,
    export_header,
    export_rows,
    most_rows,
    read_header,
)
from application.use_cases.contacts.csv_mapping import resolve_layout
from application.use_cases.contacts.csv_rows import ParsedRow, parse_rows
from domain.contact_imports import ContactRow, InvalidImportFile, InvalidMapping
from domain.contacts import Contact

pytestmark = pytest.mark.unit


def parse(content: bytes | str, mapping: dict[str, str | None] | None = None,
          delimiter: str | None = None) -> list[ParsedRow]:
    text = decode(content.encode() if isinstance(content, str) else content)
    used = check_delimiter(delimiter, text)
    return list(parse_rows(text, used, resolve_layout(read_header(text, used), mapping)))


def rows(parsed: list[ParsedRow]) -> list[ContactRow]:
    return [p.row for p in parsed if p.row is not None and not p.duplicate]


def errors(parsed: list[ParsedRow]) -> list[tuple[int, str | None, str]]:
    return [(p.error.line, p.error.column, p.error.error_code) for p in parsed if p.error is not None]


class TestDecoding:
    def test_utf8_with_and_without_a_byte_order_mark(self) -> None:
        body = "whatsapp_id,name\n5511987654321,João Ñandú\n"
        for content in (body.encode(), b"\xef\xbb\xbf" + body.encode()):
            assert rows(parse(content)) == [ContactRow(whatsapp_id="5511987654321", name="João Ñandú")]

    def test_a_file_that_is_not_utf8_names_the_line(self) -> None:
        with pytest.raises(InvalidImportFile) as raised:
            decode(b"whatsapp_id,name\n5511987654321,ok\n5511987654322,Jo" + b"\xe3o\n")
        assert raised.value.code == "invalid_csv" and "line 3" in raised.value.message

    def test_an_empty_file_is_refused(self) -> None:
        for empty in ("", "\n\n", "\ufeff"):
            with pytest.raises(InvalidImportFile):
                read_header(decode(empty.encode()), ",")


class TestDelimiter:
    def test_semicolon_is_sniffed_from_the_header(self) -> None:
        parsed = parse("whatsapp_id;name;email\n5511987654321;Silva, Ana;ana@example.com\n")
        assert rows(parsed) == [ContactRow(whatsapp_id="5511987654321", name="Silva, Ana", email="ana@example.com")]

    def test_comma_is_the_default_and_quoted_delimiters_do_not_count(self) -> None:
        assert check_delimiter(None, '"a;b;c",name\n1,2\n') == ","
        assert check_delimiter(None, "whatsapp_id\n5511987654321\n") == ","

    def test_a_given_delimiter_wins(self) -> None:
        assert check_delimiter(";", "a,b,c\n") == ";"
        with pytest.raises(InvalidImportFile) as raised:
            check_delimiter("|", "a|b\n")
        assert raised.value.field == "delimiter"


class TestQuoting:
    def test_quoted_fields_hold_delimiters_quotes_and_newlines(self) -> None:
        parsed = parse('whatsapp_id,name,tags\r\n'
                       '5511987654321,"Silva, ""Ana""",vip\r\n'
                       '5511987654322,"Line one\nline two","a|b"\r\n'
                       '5511987654323,Third,"x,y"\r\n')
        assert rows(parsed) == [
            ContactRow(whatsapp_id="5511987654321", name='Silva, "Ana"', tags=["vip"]),
            ContactRow(whatsapp_id="5511987654322", name="Line one\nline two", tags=["a", "b"]),
            ContactRow(whatsapp_id="5511987654323", name="Third", tags=["x", "y"])]
        assert [p.line for p in parsed] == [2, 3, 5]  # the row after a two-line record starts on line 5

    def test_blank_lines_are_skipped_and_not_counted(self) -> None:
        text = "whatsapp_id,name\n\n5511987654321,A\n,\n\n5511987654322,B\n"
        parsed = parse(text)
        assert [p.line for p in parsed] == [3, 6]
        assert count_rows(text, ",") == 2 and most_rows(text) >= 2


class TestMapping:
    HEADER = ["Telefone", "Nome", "E-mail", "Etiquetas", "Cidade", "Extra"]

    def test_columns_map_to_targets_and_others_are_ignored(self) -> None:
        parsed = parse("Telefone;Nome;E-mail;Etiquetas;Cidade;Extra\n"
                       "+55 11 98765-4321;Ana;ANA@Example.com;vip|lead;Recife;ignored\n",
                       {"Telefone": "whatsapp_id", "nome": "name", "E-mail": "email", "Etiquetas": "tags",
                        "Cidade": "attributes.city", "Extra": None})
        assert rows(parsed) == [ContactRow(whatsapp_id="5511987654321", name="Ana", email="ana@example.com",
                                           tags=["vip", "lead"], attributes={"city": "Recife"})]

    def test_without_a_mapping_columns_named_like_targets_are_used(self) -> None:
        layout = resolve_layout(["WhatsApp_ID", "name", "Phone", "attributes.plan", "attributes"], None)
        assert layout.mapping == {"WhatsApp_ID": "whatsapp_id", "name": "name", "attributes.plan": "attributes.plan",
                                  "attributes": "attributes"}

    @pytest.mark.parametrize(("mapping", "message"), [
        ({"Nome": "name"}, "No column maps to whatsapp_id"),
        ({"Telefone": "whatsapp_id", "Missing": "name"}, "does not have"),
        ({"Telefone": "whatsapp_id", "Nome": "phone"}, "Unknown target"),
        ({"Telefone": "whatsapp_id", "Nome": "attributes."}, "Unknown target"),
        ({"Telefone": "whatsapp_id", "Nome": "name", "Extra": "name"}, "more than one column"),
        ({"Telefone": "whatsapp_id", "Nome": 3}, "target name"),
    ])
    def test_a_bad_mapping_is_refused(self, mapping: dict[str, str | None], message: str) -> None:
        with pytest.raises(InvalidMapping) as raised:
            resolve_layout(self.HEADER, mapping)
        assert raised.value.code == "invalid_mapping" and message in raised.value.message

    def test_an_ambiguous_header_cannot_be_mapped(self) -> None:
        with pytest.raises(InvalidMapping, match="more than once"):
            resolve_layout(["phone", "phone"], {"phone": "whatsapp_id"})


class TestRowErrors:
    def test_each_bad_row_is_an_error_with_its_line_and_the_rest_are_imported(self) -> None:
        parsed = parse("whatsapp_id,name,email,tags,attributes\n"
                       "5511987654321,Good,,,\n"
                       "12345,Short number,,,\n"
                       ",No number,,,\n"
                       f"5511987654322,{'x' * 256},,,\n"
                       "5511987654323,Bad email,not-an-email,,\n"
                       "5511987654324,Bad tag,,#$%,\n"
                       '5511987654325,Bad attributes,,,"[1,2]"\n'
                       "5511987654326,Too,many,fields,,here\n"
                       "5511987654327,Nul\x00name,,,\n"
                       '5511987654328,NaN attributes,,,"{""a"": NaN}"\n'
                       "5511987654329,Also good,,,\n")
        assert errors(parsed) == [(3, "whatsapp_id", "invalid_whatsapp_id"), (4, "whatsapp_id", "missing_whatsapp_id"),
                                  (5, "name", "name_too_long"), (6, "email", "invalid_email"),
                                  (7, "tags", "invalid_tag"), (8, "attributes", "invalid_attributes"),
                                  (9, None, "too_many_fields"), (10, "name", "invalid_character"),
                                  (11, "attributes", "invalid_attributes")]
        assert [r.whatsapp_id for r in rows(parsed)] == ["5511987654321", "5511987654329"]
        assert all(p.error.reason for p in parsed if p.error is not None)

    def test_short_rows_have_empty_cells_and_empty_cells_give_no_value(self) -> None:
        assert rows(parse("whatsapp_id,name,email,tags\n5511987654321\n5511987654322, , ,|\n")) == [
            ContactRow(whatsapp_id="5511987654321"), ContactRow(whatsapp_id="5511987654322")]

    def test_attribute_columns_and_a_json_object_merge(self) -> None:
        parsed = parse('whatsapp_id,attributes,attributes.plan\n'
                       '5511987654321,"{""plan"": ""basic"", ""score"": 7, ""nested"": {""a"": [1]}}",gold\n')
        assert rows(parsed)[0].attributes == {"plan": "gold", "score": 7, "nested": {"a": [1]}}

    def test_attributes_over_16_kib_or_with_an_escaped_nul_are_row_errors(self) -> None:
        big_json = '"{""notes"": ""' + "x" * 17_000 + '""}"'
        parsed = parse("whatsapp_id,attributes,attributes.bio\n"
                       f"5511987654321,,{'y' * 17_000}\n"
                       f"5511987654322,{big_json},\n"
                       '5511987654323,"{""a"": ""nul\\u0000""}",\n'
                       f"5511987654324,,{'z' * 2_000}\n")
        assert errors(parsed) == [(2, None, "invalid_attributes"), (3, None, "invalid_attributes"),
                                  (4, "attributes", "invalid_character")]
        assert [r.whatsapp_id for r in rows(parsed)] == ["5511987654324"]

    def test_too_many_attributes_is_a_row_error(self) -> None:
        header = ",".join(["whatsapp_id"] + [f"attributes.k{i}" for i in range(101)])
        assert errors(parse(f"{header}\n5511987654321,{','.join(['v'] * 101)}\n")) == [
            (2, None, "invalid_attributes")]


class TestDuplicates:
    def test_the_first_valid_row_of_a_number_wins(self) -> None:
        parsed = parse("whatsapp_id,name,email\n"
                       "5511987654321,Bad email first,nope\n"
                       "+55 11 98765-4321,First valid,\n"
                       "55-11-98765-4321,Later,\n"
                       "5511987654322,Other,\n")
        assert [(p.line, p.error is not None, p.duplicate) for p in parsed] == [
            (2, True, False), (3, False, False), (4, False, True), (5, False, False)]
        assert [r.name for r in rows(parsed)] == ["First valid", "Other"]


class TestExport:
    def test_the_export_is_the_import_format_and_reads_back_the_same(self) -> None:
        now = datetime.now(UTC)
        contacts = [Contact(id=uuid4(), organization_id=uuid4(), whatsapp_id="5511987654321", name='Silva, "Ana"',
                            email="ana@example.com", tags=["vip", "lead"],
                            attributes={"city": "São Paulo", "score": 7}, created_at=now, updated_at=now),
                    Contact(id=uuid4(), organization_id=uuid4(), whatsapp_id="5511987654322", name="=HYPERLINK(1)",
                            email="+x@example.com", created_at=now, updated_at=now)]
        text = export_header() + export_rows(contacts)
        assert text.splitlines()[0] == "whatsapp_id,name,email,tags,attributes"
        assert "'=HYPERLINK(1)" in text and "'+x@" in text  # no formula runs when a spreadsheet opens it
        assert rows(parse(text)) == [
            ContactRow(whatsapp_id="5511987654321", name='Silva, "Ana"', email="ana@example.com", tags=["vip", "lead"],
                       attributes={"city": "São Paulo", "score": 7}),
            ContactRow(whatsapp_id="5511987654322", name="=HYPERLINK(1)", email="+x@example.com")]
