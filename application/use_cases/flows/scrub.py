"""Remove resolved secret values from a text we built (an HTTP node's error) before it is stored or logged.

An error from the HTTP caller may quote the host or address it refused, and a secret may be part of either
(``https://{{secret:HOST}}.example/``). Every value resolved for the call is replaced, in every form an error
text may show it: as is (any letter case: host names are lowercased), without the tabs and newlines a URL parser
drops, percent-encoded, escaped as in a repr or JSON string, as an IDNA host name, and as the canonical text of
an IP address.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[secret]"
_URL_STRIPPED = str.maketrans("", "", "\t\r\n")  # urlsplit drops these characters from a URL


def _forms(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), repr(value)[1:-1],
             json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
             value.translate(_URL_STRIPPED)}
    try:
        forms.add(value.encode("idna").decode("ascii"))
    except UnicodeError:
        pass
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        pass
    else:
        forms |= {str(address), address.exploded}
    return {f for f in forms if f}


def scrub(text: str, values: Iterable[str]) -> str:
    forms = sorted({form for value in values if value for form in _forms(value)}, key=len, reverse=True)
    if not forms:
        return text
    return re.sub("|".join(re.escape(f) for f in forms), REDACTED, text, flags=re.IGNORECASE)
