//! Narrative XHTML checks: a single well-formed `<div>` in the XHTML namespace (or, as JSON
//! clients often send it, in none), holding none of the active content FHIR forbids in narratives
//! (txt-1, txt-2).
//!
//! The narrative is embedded verbatim in XML output, so whatever passes here must be well-formed
//! XML on its own: a conforming XML parser (roxmltree) decides, which refuses DTDs, undefined
//! entities (`&nbsp;` is HTML, not XML), character references to characters XML forbids (`&#0;`),
//! unbound prefixes and repeated attributes.

use roxmltree::{Document, Node, ParsingOptions};

use super::text;

pub const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";

const FORBIDDEN_ELEMENTS: &[&str] = &[
    "script", "style", "object", "applet", "embed", "iframe", "frame", "frameset", "form", "input", "button", "select",
    "textarea", "link", "meta", "base",
];

/// Narratives are short documents; this bounds what a hostile one can make the parser build.
const MAX_NODES: u32 = 100_000;

pub fn check(div: &str) -> Result<(), String> {
    if let Some(c) = text::first_forbidden(div) {
        return Err(format!("narrative contains the character {}, which XML does not allow", text::describe(c)));
    }
    if !div.starts_with('<') || div.starts_with("<?") || !div.ends_with('>') {
        return Err("narrative must be exactly one <div> element, with nothing before or after it".to_string());
    }
    let options = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, entity_resolver: None };
    let doc =
        Document::parse_with_options(div, options).map_err(|e| format!("narrative is not well-formed XHTML: {e}"))?;
    let root = doc.root_element();
    if doc.root().children().any(|n| n != root) {
        return Err("narrative must be exactly one <div> element, with nothing before or after it".to_string());
    }
    let namespace = root.tag_name().namespace();
    if !matches!(namespace, None | Some(XHTML_NS)) {
        return Err(format!("narrative <div> must be in the XHTML namespace ({XHTML_NS})"));
    }
    if root.tag_name().name() != "div" {
        return Err("narrative root element must be <div>".to_string());
    }
    for node in root.descendants().filter(Node::is_element) {
        let name = node.tag_name().name().to_ascii_lowercase();
        if node.tag_name().namespace() != namespace {
            return Err(format!("narrative element <{name}> is not in the XHTML namespace"));
        }
        if FORBIDDEN_ELEMENTS.contains(&name.as_str()) {
            return Err(format!("narrative must not contain <{name}> elements"));
        }
        // roxmltree reads `<:div>` and `</:div>` as `div` with an empty prefix; XML names cannot
        // start with ':'. The end tag is the last `</` of the element's own text.
        let source = div.get(node.range()).unwrap_or_default();
        let end_tag = source.rfind("</").filter(|_| !source.ends_with("/>")).and_then(|at| source.get(at + 2..));
        if source.get(1..).is_some_and(|rest| rest.starts_with(':')) || end_tag.is_some_and(|t| t.starts_with(':')) {
            return Err(format!("narrative element <{name}> has an empty namespace prefix"));
        }
        for attr in node.attributes() {
            if div.get(attr.range_qname()).is_some_and(|q| q.starts_with(':')) {
                return Err(format!("narrative attribute '{}' has an empty namespace prefix", attr.name()));
            }
            let key = attr.name().to_ascii_lowercase();
            if key.starts_with("on") {
                return Err(format!("narrative must not contain event attributes ('{key}')"));
            }
        }
    }
    Ok(())
}

/// For a checked narrative whose `<div>` declares no namespace of its own: where its name ends
/// (so a declaration can be inserted there). `None` when the div already declares one.
pub fn undeclared_name_end(div: &str) -> Option<usize> {
    let mut reader = quick_xml::Reader::from_str(div);
    let start = match reader.read_event() {
        Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => e,
        _ => return None,
    };
    // A prefixed div passed `check`, so its prefix is declared on it.
    let declared = start.name().prefix().is_some() || start.attributes().flatten().any(|a| a.key.as_ref() == b"xmlns");
    (!declared).then(|| 1 + start.name().as_ref().len())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn narratives() {
        assert!(check(r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>a &amp; b&#160;</p></div>"#).is_ok());
        assert!(check(r#"<h:div xmlns:h="http://www.w3.org/1999/xhtml"><h:p>x</h:p></h:div>"#).is_ok());
        assert!(check("<div>no namespace, as JSON clients send it</div>").is_ok());
        assert!(check("<div><p>unclosed</div>").is_err());
        assert!(check("<div><script>x</script></div>").is_err());
        assert!(check(r#"<div><a onclick="x">a</a></div>"#).is_err());
        assert!(check(r#"<div><a ONCLICK="x">a</a></div>"#).is_err());
        assert!(check("<p>x</p>").is_err());
        assert!(check("<div>a &nbsp; b</div>").is_err(), "HTML entities are not XML");
        assert!(check("<div>&#0;</div>").is_err());
        assert!(check("<div>&#x1;</div>").is_err());
        assert!(check("<div>\u{1}</div>").is_err());
        assert!(check("<div>&#xFFFE;</div>").is_err());
        assert!(check(r#"<div a="1" a="2"/>"#).is_err());
        assert!(check("<div><x:p>unbound prefix</x:p></div>").is_err());
        assert!(
            check(r#"<div xmlns="http://www.w3.org/1999/xhtml"><p xmlns="http://evil.example">x</p></div>"#).is_err()
        );
        assert!(check(r#"<div xmlns="http://evil.example">x</div>"#).is_err());
        assert!(check("<!DOCTYPE div [<!ENTITY e \"x\">]><div>&e;</div>").is_err());
        assert!(check(" <div/>").is_err() && check("<div/><!-- after -->").is_err() && check("<div/><div/>").is_err());
        assert!(check("<?xml version=\"1.0\"?><div/>").is_err());
        // Found by the fuzzer: an empty prefix.
        assert!(check("<:div>x</div>").is_err());
        // And in an end tag (found by the long run in CI).
        assert!(check(r#"<div title="xmlns">x</:div>"#).is_err());
        assert!(check("<div><p>x</:p></div>").is_err());
        assert!(check("<div><p>a</p><br/></div>").is_ok());
        assert!(check("<div><:p>x</p></div>").is_err());
        assert!(check(r#"<div :title="x">x</div>"#).is_err());
    }

    #[test]
    fn where_a_namespace_goes() {
        assert_eq!(super::undeclared_name_end("<div>x</div>"), Some(4));
        assert_eq!(super::undeclared_name_end(r#"<div title="xmlns">x</div>"#), Some(4));
        assert_eq!(super::undeclared_name_end("<div/>"), Some(4));
        assert_eq!(super::undeclared_name_end(r#"<div xmlns:x="http://x"/>"#), Some(4));
        assert_eq!(super::undeclared_name_end(r#"<div xmlns="http://www.w3.org/1999/xhtml"/>"#), None);
        assert_eq!(super::undeclared_name_end(r#"<h:div xmlns:h="http://www.w3.org/1999/xhtml"/>"#), None);
    }
}
