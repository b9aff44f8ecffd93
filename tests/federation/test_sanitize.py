"""Sanitising of remote HTML, names and text against an XSS corpus."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest

from federation.sanitize import plain_text, sanitize_display_name, sanitize_html
from tests.fixtures import list_fixtures, load_fixture

# What may appear in sanitize_html output, written out here independently of the
# module so that a change to the allowlist has to change this test too.
OUTPUT_TAGS = {
    "p", "br", "a", "span", "strong", "b", "em", "i", "u", "del", "s", "code",
    "pre", "blockquote", "ul", "ol", "li", "sub", "sup", "hr",
}  # fmt: skip
OUTPUT_ATTRIBUTES = {
    "a": {"href", "rel", "class", "target"},
    "span": {"class"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
OUTPUT_CLASSES = {"mention", "hashtag", "ellipsis", "invisible", "h-card", "u-url"}
LINK_SCHEMES = {"http", "https", "mailto", "xmpp", "matrix", "magnet", "gemini"}


class MarkupAudit(HTMLParser):
    """Lists every tag, attribute or URL in sanitised HTML outside the policy."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.violations: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in OUTPUT_TAGS:
            self.violations.append(f"tag <{tag}>")
            return
        for name, value in attrs:
            self._check_attribute(tag, name, value or "")

    handle_startendtag = handle_starttag

    def handle_comment(self, data: str) -> None:
        self.violations.append(f"comment {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.violations.append(f"declaration {decl!r}")

    def unknown_decl(self, data: str) -> None:
        self.violations.append(f"declaration {data!r}")

    def handle_pi(self, data: str) -> None:
        self.violations.append(f"processing instruction {data!r}")

    def _check_attribute(self, tag: str, name: str, value: str) -> None:
        if name not in OUTPUT_ATTRIBUTES.get(tag, set()):
            self.violations.append(f"attribute {name}={value!r} on <{tag}>")
        elif name == "href" and not is_safe_link(value):
            self.violations.append(f"href {value!r}")
        elif name == "class" and not set(value.split()) <= OUTPUT_CLASSES:
            self.violations.append(f"class {value!r}")
        elif name == "target" and value != "_blank":
            self.violations.append(f"target {value!r}")


def is_safe_link(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in LINK_SCHEMES:
        return False
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return False
    return parts.scheme not in ("http", "https") or bool(parts.netloc)


def markup_violations(html_text: str) -> list[str]:
    audit = MarkupAudit()
    audit.feed(html_text)
    audit.close()
    return audit.violations


XSS_CORPUS = [
    pytest.param("<script>alert(1)</script>", id="script"),
    pytest.param("<SCRIPT SRC=//evil.test/x.js></SCRIPT>", id="script-uppercase-src"),
    pytest.param("<scr<script>ipt>alert(1)</script>", id="script-split-name"),
    pytest.param("<scri\x00pt>alert(1)</scri\x00pt>", id="script-null-byte"),
    pytest.param("<script>alert(1)", id="script-unclosed"),
    pytest.param('<img src="x" onerror="alert(1)">', id="img-onerror"),
    pytest.param("<img/src/onerror=alert(1)>", id="img-onerror-slashes"),
    pytest.param('<img src="x\n onerror="alert(1)">', id="img-broken-attribute"),
    pytest.param(
        '<img src="https://ok.test/a.png" onload="alert(1)">', id="img-onload"
    ),
    pytest.param("<svg onload=alert(1)>", id="svg-onload"),
    pytest.param("<svg><script>alert(1)</script></svg>", id="svg-script"),
    pytest.param(
        '<svg><a xlink:href="javascript:alert(1)"><text>go</text></a></svg>',
        id="svg-xlink-javascript",
    ),
    pytest.param(
        '<svg><animate attributeName="href" values="javascript:alert(1)"/></svg>',
        id="svg-animate-href",
    ),
    pytest.param(
        '<svg><use href="data:image/svg+xml;base64,PHN2Zz4=#x"/></svg>',
        id="svg-use-data",
    ),
    pytest.param(
        '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">'
        "go</maction></math>",
        id="mathml-maction",
    ),
    pytest.param(
        "<math><mtext><table><mglyph><style><!--</style>"
        '<img title="--&gt;&lt;img src=1 onerror=alert(1)&gt;">',
        id="mathml-style-mutation",
    ),
    pytest.param('<a href="javascript:alert(1)">x</a>', id="href-javascript"),
    pytest.param(
        '<a href="JaVaScRiPt:alert(1)">x</a>', id="href-javascript-mixed-case"
    ),
    pytest.param(
        '<a href="  javascript:alert(1)">x</a>', id="href-javascript-leading-space"
    ),
    pytest.param(
        '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1)">'
        "x</a>",
        id="href-javascript-decimal-entities",
    ),
    pytest.param(
        '<a href="&#x6A;&#x61;&#x76;&#x61;script:alert(1)">x</a>',
        id="href-javascript-hex-entities",
    ),
    pytest.param(
        '<a href="&#0000106&#0000097vascript:alert(1)">x</a>',
        id="href-javascript-entities-no-semicolon",
    ),
    pytest.param(
        '<a href="jav&#x09;ascript:alert(1)">x</a>', id="href-javascript-tab-entity"
    ),
    pytest.param(
        '<a href="java&Tab;script:alert(1)">x</a>', id="href-javascript-named-tab"
    ),
    pytest.param('<a href="java\nscript:alert(1)">x</a>', id="href-javascript-newline"),
    pytest.param(
        '<a href="\x01javascript:alert(1)">x</a>', id="href-javascript-control-char"
    ),
    pytest.param(
        '<a href="javascript&colon;alert(1)">x</a>', id="href-javascript-colon-entity"
    ),
    pytest.param(
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
        id="href-data",
    ),
    pytest.param(
        '<a href="DaTa:text/html,<script>alert(1)</script>">x</a>',
        id="href-data-mixed-case",
    ),
    pytest.param('<a href="vbscript:msgbox(1)">x</a>', id="href-vbscript"),
    pytest.param('<a href="VBScript:msgbox(1)">x</a>', id="href-vbscript-mixed-case"),
    pytest.param('<a href="/logout">x</a>', id="href-relative"),
    pytest.param('<a href="//evil.test/">x</a>', id="href-protocol-relative"),
    pytest.param('<a href="https:evil.test">x</a>', id="href-https-without-host"),
    pytest.param('<a href="https://ok.test/" onclick="alert(1)">x</a>', id="onclick"),
    pytest.param('<p onmouseover="alert(1)">x</p>', id="onmouseover"),
    pytest.param("<body onload=alert(1)>x", id="body-onload"),
    pytest.param("<details open ontoggle=alert(1)>x</details>", id="details-ontoggle"),
    pytest.param(
        '<video><source onerror="alert(1)"></video>', id="video-source-onerror"
    ),
    pytest.param('<input autofocus onfocus="alert(1)">', id="input-onfocus"),
    pytest.param('<p style="color:red">x</p>', id="style-attribute"),
    pytest.param('<p style="width: expression(alert(1))">x</p>', id="style-expression"),
    pytest.param(
        "<div style=\"background:url('javascript:alert(1)')\">x</div>",
        id="style-url-javascript",
    ),
    pytest.param(
        '<span class="mention" style="position:fixed;top:0;left:0;width:100%">x</span>',
        id="style-overlay",
    ),
    pytest.param(
        "<style>@import 'https://evil.test/x.css';</style>x", id="style-import"
    ),
    pytest.param("<style>body{display:none}</style>x", id="style-block"),
    pytest.param(
        '<link rel="stylesheet" href="https://evil.test/x.css">', id="link-stylesheet"
    ),
    pytest.param('<span class="navbar admin-only">x</span>', id="class-injection"),
    pytest.param('<iframe src="javascript:alert(1)"></iframe>', id="iframe-javascript"),
    pytest.param(
        '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
        id="iframe-srcdoc",
    ),
    pytest.param(
        '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">'
        "go</button></form>",
        id="form-action",
    ),
    pytest.param('<isindex action="javascript:alert(1)" type="image">', id="isindex"),
    pytest.param('<object data="javascript:alert(1)"></object>', id="object-data"),
    pytest.param('<embed src="javascript:alert(1)">', id="embed-src"),
    pytest.param(
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        id="meta-refresh",
    ),
    pytest.param('<base href="javascript:/">', id="base-href"),
    pytest.param(
        '<a href="https://ok.test/" title=\'" onmouseover="alert(1)\'>x</a>',
        id="attribute-quote-injection-title",
    ),
    pytest.param(
        "<a href='https://ok.test/\"onmouseover=\"alert(1)'>x</a>",
        id="attribute-quote-injection-href",
    ),
    pytest.param('<a href="https://ok.test/" target="_top">x</a>', id="target-top"),
    pytest.param('<a href="https://ok.test/" rel="opener">x</a>', id="rel-opener"),
    pytest.param(
        '<a href="https://ok.test/"><a href="javascript:alert(1)">x</a></a>',
        id="nested-links",
    ),
    pytest.param("<b><i><u><script>alert(1)</script></u></i></b>", id="nested-inline"),
    pytest.param('<a href="javascript:alert(1)"', id="unclosed-start-tag"),
    pytest.param("<p>unclosed <b>bold <i>and italic", id="unclosed-inline"),
    pytest.param("<!--<script>alert(1)</script>-->x", id="comment-script"),
    pytest.param(
        "<!--[if IE]><script>alert(1)</script><![endif]-->x", id="conditional-comment"
    ),
    pytest.param("<![CDATA[<script>alert(1)</script>]]>", id="cdata"),
    pytest.param(
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
        id="noscript-mutation",
    ),
    pytest.param("<template><script>alert(1)</script></template>", id="template"),
    pytest.param("<xmp><script>alert(1)</script></xmp>", id="xmp"),
    pytest.param("<textarea><script>alert(1)</script></textarea>", id="textarea"),
    pytest.param(
        "<?xml-stylesheet href='https://evil.test/x'?>x", id="processing-instruction"
    ),
]


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_xss_payload_leaves_allowed_markup_only(payload: str) -> None:
    assert markup_violations(sanitize_html(payload)) == []


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_xss_payload_output_stable_when_sanitised_again(payload: str) -> None:
    once = sanitize_html(payload)
    assert sanitize_html(once) == once


def test_sanitize_keeps_paragraph_and_emphasis() -> None:
    html = "<p>Use <strong>three</strong> <em>short</em> questions.</p>"
    assert sanitize_html(html) == html


def test_sanitize_keeps_mention_link() -> None:
    html = (
        '<span class="h-card"><a href="https://ok.test/@alice" class="u-url mention">'
        "@<span>alice</span></a></span>"
    )
    assert sanitize_html(html) == (
        '<span class="h-card"><a href="https://ok.test/@alice" class="u-url mention" '
        'rel="nofollow noopener noreferrer" target="_blank">'
        "@<span>alice</span></a></span>"
    )


def test_sanitize_hashtag_link_keeps_rel_tag() -> None:
    html = (
        '<a href="https://ok.test/tags/maths" class="mention hashtag" rel="tag">'
        "#maths</a>"
    )
    assert 'rel="tag nofollow noopener noreferrer"' in sanitize_html(html)


def test_sanitize_link_drops_remote_rel_values() -> None:
    html = '<a href="https://ok.test/" rel="me opener">x</a>'
    assert 'rel="nofollow noopener noreferrer"' in sanitize_html(html)


def test_sanitize_link_target_replaced() -> None:
    html = '<a href="https://ok.test/" target="_self">x</a>'
    assert 'target="_blank"' in sanitize_html(html)


def test_sanitize_span_keeps_listed_classes_only() -> None:
    html = '<span class="invisible admin ellipsis">x</span>'
    assert sanitize_html(html) == '<span class="invisible ellipsis">x</span>'


def test_sanitize_span_unlisted_class_attribute_removed() -> None:
    assert sanitize_html('<span class="admin">x</span>') == "<span>x</span>"


@pytest.mark.parametrize("level", range(1, 7))
def test_sanitize_heading_becomes_bold_paragraph(level: int) -> None:
    html = f"<h{level}>Marking</h{level}>"
    assert sanitize_html(html) == "<p><strong>Marking</strong></p>"


def test_sanitize_script_content_dropped() -> None:
    assert sanitize_html("<p>a</p><script>var secret = 1;</script><p>b</p>") == (
        "<p>a</p><p>b</p>"
    )


def test_sanitize_style_content_dropped() -> None:
    assert sanitize_html("<style>p { color: red }</style><p>b</p>") == "<p>b</p>"


def test_sanitize_svg_text_dropped() -> None:
    assert sanitize_html("<svg><title>logo</title><text>hi</text></svg>x") == "x"


def test_sanitize_unknown_tag_text_kept() -> None:
    assert (
        sanitize_html("<marquee>Welcome <b>back</b></marquee>") == "Welcome <b>back</b>"
    )


def test_sanitize_image_removed() -> None:
    assert sanitize_html('<p>see <img src="https://ok.test/a.png" alt="a">.</p>') == (
        "<p>see .</p>"
    )


def test_sanitize_relative_link_keeps_text() -> None:
    assert sanitize_html('<a href="/settings">settings</a>') == "settings"


def test_sanitize_javascript_link_keeps_text() -> None:
    assert sanitize_html('<a href="javascript:alert(1)">click</a>') == "click"


@pytest.mark.parametrize(
    "url",
    [
        "https://ok.test/page",
        "http://ok.test/page",
        "mailto:rosa@ok.test",
        "xmpp:rosa@ok.test",
        "matrix:u/rosa:ok.test",
        "magnet:?xt=urn:btih:2f9c4e1a7b3d0e5f8a6c2b9d4e7f1a3c5b8d0e2f",
        "gemini://ok.test/",
    ],
)
def test_sanitize_allowed_scheme_link_kept(url: str) -> None:
    assert f'href="{url}"' in sanitize_html(f'<a href="{url}">x</a>')


@pytest.mark.parametrize(
    "url", ["ftp://ok.test/x", "file:///etc/passwd", "tel:+441234", "irc://ok.test/x"]
)
def test_sanitize_other_scheme_link_unwrapped(url: str) -> None:
    assert sanitize_html(f'<a href="{url}">x</a>') == "x"


def test_sanitize_ordered_list_attributes_kept() -> None:
    html = '<ol start="3" reversed=""><li value="5">a</li></ol>'
    assert sanitize_html(html) == html


def test_sanitize_comment_removed() -> None:
    assert sanitize_html("<p>a<!-- internal --></p>") == "<p>a</p>"


def test_sanitize_escaped_markup_stays_escaped() -> None:
    assert sanitize_html("&lt;script&gt;alert(1)&lt;/script&gt;") == (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    )


def test_sanitize_bare_angle_bracket_escaped() -> None:
    assert sanitize_html("1 < 2 and 3 > 2") == "1 &lt; 2 and 3 &gt; 2"


def test_sanitize_empty_string() -> None:
    assert sanitize_html("") == ""


def test_sanitize_rejects_bytes() -> None:
    with pytest.raises(TypeError):
        sanitize_html(b"<p>x</p>")  # type: ignore[arg-type]


def fixture_html_fields() -> list[Any]:
    """Every HTML content, summary and field value in the peer fixtures."""
    params = []
    for server, flow in list_fixtures():
        document = load_fixture(
            server, flow, remote_host="peer.test", local_host="pedagogue.test"
        )
        for path, text in html_strings(document, flow):
            params.append(pytest.param(text, id=f"{server}-{flow}-{path}"))
    return params


def html_strings(value: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("content", "summary", "value") and isinstance(item, str):
                found.append((f"{path}.{key}", item))
            elif key == "contentMap" and isinstance(item, dict):
                found.extend(
                    (f"{path}.{key}.{lang}", text) for lang, text in item.items()
                )
            else:
                found.extend(html_strings(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(html_strings(item, f"{path}[{index}]"))
    return found


FIXTURE_HTML = fixture_html_fields()


@pytest.mark.parametrize("html", FIXTURE_HTML)
def test_peer_fixture_html_leaves_allowed_markup_only(html: str) -> None:
    assert markup_violations(sanitize_html(html)) == []


@pytest.mark.parametrize("html", FIXTURE_HTML)
def test_peer_fixture_html_keeps_text(html: str) -> None:
    # Fixtures carry no dropped elements, so sanitising must keep all the text.
    assert plain_text(sanitize_html(html)) == plain_text(html)


def test_plain_text_strips_tags() -> None:
    assert plain_text("<p>Use <b>three</b> questions</p>") == "Use three questions"


def test_plain_text_decodes_entities() -> None:
    assert plain_text("a &lt;b&gt; &amp; &#233;t&eacute;") == "a <b> & été"


def test_plain_text_decodes_entities_once() -> None:
    assert plain_text("&amp;lt;") == "&lt;"


def test_plain_text_separates_blocks() -> None:
    assert plain_text("<p>one</p><p>two</p>three<br>four") == "one two three four"


def test_plain_text_collapses_whitespace() -> None:
    assert plain_text("  lots \n of\t\tspace  ") == "lots of space"


def test_plain_text_drops_script_content() -> None:
    assert plain_text("<script>steal()</script>kept") == "kept"


def test_plain_text_drops_style_content() -> None:
    assert plain_text("<style>p{}</style>kept") == "kept"


def test_plain_text_drops_nested_svg_content() -> None:
    assert plain_text("<svg><g><title>t</title></g></svg>kept") == "kept"


def test_plain_text_unclosed_markup() -> None:
    assert plain_text("<p>open <b>bold") == "open bold"


def test_plain_text_mention_markup() -> None:
    html = (
        '<span class="h-card"><a href="https://ok.test/@alice" class="u-url mention">'
        "@<span>alice</span></a></span> hello"
    )
    assert plain_text(html) == "@alice hello"


def test_plain_text_rejects_none() -> None:
    with pytest.raises(TypeError):
        plain_text(None)  # type: ignore[arg-type]


def test_display_name_plain_name_unchanged() -> None:
    assert sanitize_display_name("Rosa Lindqvist :chalkboard:") == (
        "Rosa Lindqvist :chalkboard:"
    )


def test_display_name_bidi_override_removed() -> None:
    assert sanitize_display_name("admin\u202egnp.exe") == "admingnp.exe"


def test_display_name_bidi_isolates_removed() -> None:
    assert sanitize_display_name("\u2066Rosa\u2069") == "Rosa"


def test_display_name_zero_width_space_removed() -> None:
    assert sanitize_display_name("Ro\u200bsa") == "Rosa"


def test_display_name_control_characters_removed() -> None:
    assert sanitize_display_name("Ro\x00s\x07a") == "Rosa"


def test_display_name_emoji_joiner_kept() -> None:
    assert sanitize_display_name("\U0001f469\u200d\U0001f3eb Dara") == (
        "\U0001f469\u200d\U0001f3eb Dara"
    )


def test_display_name_whitespace_collapsed() -> None:
    assert sanitize_display_name("  Rosa \n\t Lindqvist  ") == "Rosa Lindqvist"


def test_display_name_normalised_nfc() -> None:
    assert sanitize_display_name("Zoe\u0301") == "Zo\u00e9"


def test_display_name_lone_surrogate_removed() -> None:
    assert sanitize_display_name("Ro\ud800sa") == "Rosa"


def test_display_name_markup_kept_literal() -> None:
    assert sanitize_display_name("<b>Rosa</b>") == "<b>Rosa</b>"


def test_display_name_truncated_to_max_length() -> None:
    assert len(sanitize_display_name("x" * 150)) == 100


def test_display_name_truncation_marked_with_ellipsis() -> None:
    assert sanitize_display_name("abcdefghij", max_length=5) == "abcd…"


def test_display_name_at_max_length_not_truncated() -> None:
    assert sanitize_display_name("abcde", max_length=5) == "abcde"


def test_display_name_max_length_below_one_rejected() -> None:
    with pytest.raises(ValueError, match="max_length"):
        sanitize_display_name("Rosa", max_length=0)


def test_display_name_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        sanitize_display_name(42)  # type: ignore[arg-type]
