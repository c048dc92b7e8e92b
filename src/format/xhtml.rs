//! Narrative XHTML checks: well-formed, a single `<div>` root, and none of the active content
//! FHIR forbids in narratives (txt-1, txt-2).

use quick_xml::Reader;
use quick_xml::events::Event;

const FORBIDDEN_ELEMENTS: &[&str] = &[
    "script", "style", "object", "applet", "embed", "iframe", "frame", "frameset", "form", "input", "button", "select",
    "textarea", "link", "meta", "base",
];

pub fn check(div: &str) -> Result<(), String> {
    let mut reader = Reader::from_str(div);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| format!("narrative is not well-formed XHTML: {e}"))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase();
                if depth == 0 {
                    roots += 1;
                    if name != "div" {
                        return Err("narrative root element must be <div>".to_string());
                    }
                }
                if FORBIDDEN_ELEMENTS.contains(&name.as_str()) {
                    return Err(format!("narrative must not contain <{name}> elements"));
                }
                for attr in e.attributes().with_checks(false).flatten() {
                    let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).to_ascii_lowercase();
                    if key.starts_with("on") {
                        return Err(format!("narrative must not contain event attributes ('{key}')"));
                    }
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(ref t) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err("text outside the narrative <div>".to_string());
            }
            Event::DocType(_) => return Err("narrative must not contain a DOCTYPE".to_string()),
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err("narrative XHTML has unclosed elements".to_string());
    }
    if roots != 1 {
        return Err("narrative must be exactly one <div> element".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn narratives() {
        assert!(check(r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>a &amp; b&nbsp;</p></div>"#).is_ok());
        assert!(check("<div><p>unclosed</div>").is_err());
        assert!(check("<div><script>x</script></div>").is_err());
        assert!(check(r#"<div><a onclick="x">a</a></div>"#).is_err());
        assert!(check("<p>x</p>").is_err());
    }
}
