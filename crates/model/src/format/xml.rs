//! FHIR XML ⇄ FHIR JSON, driven by the R4 type model.
//!
//! The server stores JSON; XML is converted at the edge. The model says which elements repeat,
//! which primitives are numbers or booleans, which elements are XML attributes, where resources
//! nest, and the element order XML requires. Narrative `<div>`s are carried verbatim in both
//! directions, so XHTML whitespace survives a round trip.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use serde_json::{Map, Value};

use super::text;
pub use super::xhtml::XHTML_NS;

use crate::model::primitive::{JsonKind, json_kind};
use crate::model::{Model, TypeDef};
use crate::outcome::{Issue, IssueType};

pub const FHIR_NS: &str = "http://hl7.org/fhir";
/// Attributes in this namespace (`xsi:schemaLocation`) are hints for XML tools; HL7's own files
/// carry them, and they say nothing about the resource.
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const MAX_DEPTH: usize = 128;

// ---------------------------------------------------------------------------------------------
// XML → JSON

/// Parses a FHIR XML resource into FHIR JSON. Errors carry the element path.
pub fn parse(model: &Model, input: &[u8]) -> Result<Value, Vec<Issue>> {
    let mut parser = Parser { model, input, reader: NsReader::from_reader(input), path: Vec::new() };
    parser.reader.config_mut().check_end_names = true;
    parser.document().map_err(|issue| vec![issue])
}

struct Parser<'a> {
    model: &'a Model,
    input: &'a [u8],
    reader: NsReader<&'a [u8]>,
    path: Vec<String>,
}

/// The namespace an element or attribute name resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Space {
    Fhir,
    Xhtml,
    Xsi,
    /// No prefix and no default namespace in scope.
    None,
    Other,
}

impl Space {
    fn of(resolved: &ResolveResult) -> Space {
        match resolved {
            ResolveResult::Bound(Namespace(ns)) if *ns == FHIR_NS.as_bytes() => Space::Fhir,
            ResolveResult::Bound(Namespace(ns)) if *ns == XHTML_NS.as_bytes() => Space::Xhtml,
            ResolveResult::Bound(Namespace(ns)) if *ns == XSI_NS.as_bytes() => Space::Xsi,
            ResolveResult::Unbound => Space::None,
            _ => Space::Other,
        }
    }
}

type ParseResult<T> = Result<T, Issue>;

impl<'a> Parser<'a> {
    fn fail(&self, code: IssueType, message: impl Into<String>) -> Issue {
        let at = self.path.join(".");
        let issue = Issue::error(code, message);
        if at.is_empty() { issue } else { issue.at(at) }
    }

    fn syntax(&self, e: impl std::fmt::Display) -> Issue {
        self.fail(IssueType::Structure, format!("malformed XML at byte {}: {e}", self.reader.error_position()))
    }

    fn next(&mut self) -> ParseResult<Event<'a>> {
        Ok(self.next_resolved()?.1)
    }

    /// The next event, with the namespace of its element name. Every event's raw bytes are
    /// checked for characters XML (and FHIR) forbid, since quick-xml lets them through.
    fn next_resolved(&mut self) -> ParseResult<(Space, Event<'a>)> {
        let (space, event) = match self.reader.read_resolved_event() {
            Ok((resolved, event)) => (Space::of(&resolved), event),
            Err(e) => return Err(self.syntax(e)),
        };
        if let Some(c) = text::first_forbidden_byte(&event) {
            // In a start tag, the character is in one of the element's attributes.
            if let Event::Start(e) | Event::Empty(e) = &event {
                self.path.push(local_name(e));
            }
            return Err(self.forbidden(c));
        }
        Ok((space, event))
    }

    fn forbidden(&self, c: char) -> Issue {
        self.fail(
            IssueType::Value,
            format!(
                "the character {} is not allowed in FHIR content (no control characters but TAB, CR, LF)",
                text::describe(c)
            ),
        )
    }

    /// The namespace of an attribute name; `xmlns` declarations are `None` (handled by the reader).
    fn attribute_space(&self, key: quick_xml::name::QName) -> Space {
        if key.as_ref() == b"xmlns" || key.as_ref().starts_with(b"xmlns:") {
            return Space::None;
        }
        Space::of(&self.reader.resolve_attribute(key).0)
    }

    fn foreign(&self, start: &BytesStart, expected: &str) -> Issue {
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        self.fail(IssueType::Structure, format!("element '{name}' is not in the {expected} namespace"))
    }

    fn document(&mut self) -> ParseResult<Value> {
        let (space, root, has_content) = loop {
            match self.next_resolved()? {
                (_, Event::Decl(_) | Event::Comment(_) | Event::PI(_)) => {}
                (_, Event::Text(t)) if is_blank(&t) => {}
                (_, Event::DocType(_)) => {
                    return Err(self.fail(IssueType::Security, "DOCTYPE declarations are not accepted"));
                }
                (space, Event::Start(e)) => break (space, e, true),
                (space, Event::Empty(e)) => break (space, e, false),
                (_, Event::Eof) => return Err(self.fail(IssueType::Structure, "the XML document is empty")),
                _ => return Err(self.fail(IssueType::Structure, "expected a FHIR resource element")),
            }
        };
        if space != Space::Fhir {
            return Err(self.fail(
                IssueType::Structure,
                format!("the root element must be in the FHIR namespace (xmlns=\"{FHIR_NS}\")"),
            ));
        }
        let value = self.resource(&root, has_content)?;
        loop {
            match self.next()? {
                Event::Eof => return Ok(value),
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if is_blank(&t) => {}
                _ => return Err(self.fail(IssueType::Structure, "content after the resource element")),
            }
        }
    }

    fn resource(&mut self, start: &BytesStart, has_content: bool) -> ParseResult<Value> {
        let name = local_name(start);
        if !self.model.is_resource_type(&name) {
            return Err(self.fail(IssueType::NotSupported, format!("unknown resource type '{name}'")));
        }
        let Some(def) = self.model.get(&name) else {
            return Err(self.fail(IssueType::NotSupported, format!("unknown resource type '{name}'")));
        };
        if self.path.len() > MAX_DEPTH {
            return Err(self.fail(IssueType::TooLong, "the document is nested too deeply"));
        }
        for attr in start.attributes() {
            let attr = attr.map_err(|e| self.syntax(e))?;
            let declaration = attr.key.as_ref() == b"xmlns" || attr.key.as_ref().starts_with(b"xmlns:");
            if !declaration && self.attribute_space(attr.key) != Space::Xsi {
                return Err(self.fail(IssueType::Structure, "resource elements take no attributes"));
            }
        }
        let mut map = Map::new();
        map.insert("resourceType".to_string(), Value::String(name.clone()));
        self.path.push(name);
        if has_content {
            self.children(def, &mut map)?;
        }
        self.path.pop();
        tidy_companions(&mut map);
        Ok(Value::Object(map))
    }

    /// Reads child elements up to the parent's end tag.
    fn children(&mut self, def: &'a TypeDef, map: &mut Map<String, Value>) -> ParseResult<()> {
        loop {
            let position = self.reader.buffer_position() as usize;
            match self.next_resolved()? {
                (space, Event::Start(e)) => self.child(def, map, &e, space, true, position)?,
                (space, Event::Empty(e)) => self.child(def, map, &e, space, false, position)?,
                (_, Event::End(_)) => return Ok(()),
                (_, Event::Text(t)) if is_blank(&t) => {}
                (_, Event::Comment(_) | Event::PI(_)) => {}
                (_, Event::Eof) => return Err(self.fail(IssueType::Structure, "unexpected end of the XML document")),
                _ => {
                    return Err(
                        self.fail(IssueType::Structure, "text is not allowed here (values go in value attributes)")
                    );
                }
            }
        }
    }

    fn child(
        &mut self,
        def: &'a TypeDef,
        map: &mut Map<String, Value>,
        start: &BytesStart,
        space: Space,
        has_content: bool,
        position: usize,
    ) -> ParseResult<()> {
        let name = local_name(start);
        if self.path.len() > MAX_DEPTH {
            return Err(self.fail(IssueType::TooLong, "the document is nested too deeply"));
        }
        let expected = if def.field(&name).is_some_and(|(_, t)| t == "xhtml") { Space::Xhtml } else { Space::Fhir };
        if space != expected {
            self.path.push(name.clone());
            let issue = self.foreign(start, if expected == Space::Xhtml { XHTML_NS } else { FHIR_NS });
            return Err(issue);
        }
        let Some((element, type_name)) = def.field(&name) else {
            self.path.push(name.clone());
            let issue = self.fail(IssueType::Structure, format!("unknown element '{name}'"));
            return Err(issue);
        };
        if element.xml_attr {
            return Err(self.fail(IssueType::Structure, format!("'{name}' must be an XML attribute, not an element")));
        }
        self.path.push(name.clone());
        let (value, companion) = if type_name == "xhtml" {
            (self.xhtml(start, has_content, position)?, None)
        } else if self.model.is_primitive(type_name) {
            self.primitive(start, has_content, type_name)?
        } else if type_name == "Resource" || self.model.is_resource_type(type_name) {
            (self.nested_resource(has_content)?, None)
        } else {
            let Some(child_def) = self.model.get(type_name) else {
                return Err(self.fail(IssueType::Exception, format!("no definition for type '{type_name}'")));
            };
            (self.complex(child_def, start, has_content)?, None)
        };
        self.path.pop();

        if element.is_array() {
            let values = map.entry(name.clone()).or_insert_with(|| Value::Array(Vec::new()));
            let count = values.as_array().map_or(0, Vec::len);
            if let Value::Array(items) = values {
                items.push(value);
            }
            if let Some(c) = companion {
                let companions = map.entry(format!("_{name}")).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = companions {
                    items.resize(count, Value::Null);
                    items.push(c);
                }
            }
        } else {
            if map.contains_key(&name) || map.contains_key(&format!("_{name}")) {
                self.path.push(name.clone());
                return Err(self.fail(IssueType::Structure, format!("'{name}' occurs at most once")));
            }
            if !value.is_null() {
                map.insert(name.clone(), value);
            }
            if let Some(c) = companion {
                map.insert(format!("_{name}"), c);
            }
        }
        Ok(())
    }

    fn attributes(&self, start: &BytesStart) -> ParseResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| self.syntax(e))?;
            if attr.key.as_ref() == b"xmlns" || attr.key.as_ref().starts_with(b"xmlns:") {
                continue;
            }
            let qualified = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
            match self.attribute_space(attr.key) {
                Space::Xsi => continue,
                // FHIR's attributes (value, id, url) are unqualified.
                Space::None => {}
                _ => return Err(self.fail(IssueType::Structure, format!("unknown attribute '{qualified}'"))),
            }
            let value = attr.unescape_value().map_err(|e| self.syntax(e))?.into_owned();
            if let Some(c) = text::first_forbidden(&value) {
                return Err(self.forbidden(c));
            }
            out.push((qualified, value));
        }
        Ok(out)
    }

    /// A primitive: `value` attribute → JSON value, `id` and `<extension>` → the `_name` companion.
    fn primitive(
        &mut self,
        start: &BytesStart,
        has_content: bool,
        type_name: &str,
    ) -> ParseResult<(Value, Option<Value>)> {
        let mut value = Value::Null;
        let mut companion = Map::new();
        for (key, text) in self.attributes(start)? {
            match key.as_str() {
                "value" => value = self.primitive_value(&text, type_name)?,
                "id" => {
                    companion.insert("id".to_string(), Value::String(text));
                }
                other => {
                    return Err(self.fail(IssueType::Structure, format!("unknown attribute '{other}'")));
                }
            }
        }
        if has_content {
            let Some(element_def) = self.model.get("Element") else {
                return Err(self.fail(IssueType::Exception, "no definition for Element"));
            };
            let mut children = Map::new();
            self.children(element_def, &mut children)?;
            if children.contains_key("id") {
                return Err(self.fail(IssueType::Structure, "'id' must be an attribute"));
            }
            companion.extend(children);
        }
        if value.is_null() && companion.is_empty() {
            return Err(self.fail(IssueType::Structure, "a primitive element needs a value attribute or extensions"));
        }
        Ok((value, (!companion.is_empty()).then_some(Value::Object(companion))))
    }

    fn primitive_value(&self, text: &str, type_name: &str) -> ParseResult<Value> {
        let bad = |what: &str| self.fail(IssueType::Value, format!("'{text}' is not a valid {type_name} ({what})"));
        match json_kind(type_name) {
            JsonKind::Boolean => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(bad("true or false")),
            },
            JsonKind::Integer | JsonKind::Decimal => {
                if !is_json_number(text) {
                    return Err(bad("a number"));
                }
                // The exact lexical form is kept (1.50 stays 1.50, 1E2 stays 1E2).
                Ok(Value::Number(super::json::exact_number(text)))
            }
            JsonKind::String => Ok(Value::String(text.to_string())),
        }
    }

    fn complex(&mut self, def: &'a TypeDef, start: &BytesStart, has_content: bool) -> ParseResult<Value> {
        let mut map = Map::new();
        for (key, text) in self.attributes(start)? {
            match def.field(&key) {
                Some((element, _)) if element.xml_attr => {
                    map.insert(key, Value::String(text));
                }
                _ => return Err(self.fail(IssueType::Structure, format!("unknown attribute '{key}'"))),
            }
        }
        if has_content {
            self.children(def, &mut map)?;
        }
        tidy_companions(&mut map);
        Ok(Value::Object(map))
    }

    /// `<contained>`, `<resource>`: exactly one resource element inside.
    fn nested_resource(&mut self, has_content: bool) -> ParseResult<Value> {
        if !has_content {
            return Err(self.fail(IssueType::Structure, "expected a resource inside this element"));
        }
        let mut found = None;
        loop {
            match self.next_resolved()? {
                (Space::Fhir, Event::Start(e)) if found.is_none() => found = Some(self.resource(&e, true)?),
                (Space::Fhir, Event::Empty(e)) if found.is_none() => found = Some(self.resource(&e, false)?),
                (_, Event::Start(e) | Event::Empty(e)) if found.is_none() => return Err(self.foreign(&e, FHIR_NS)),
                (_, Event::End(_)) => break,
                (_, Event::Text(t)) if is_blank(&t) => {}
                (_, Event::Comment(_) | Event::PI(_)) => {}
                _ => return Err(self.fail(IssueType::Structure, "expected exactly one resource inside this element")),
            }
        }
        found.ok_or_else(|| self.fail(IssueType::Structure, "expected a resource inside this element"))
    }

    /// The narrative is copied verbatim, markup and whitespace included. If its namespace was
    /// declared on an ancestor, the declaration is added to the `<div>` so the copy stands alone.
    fn xhtml(&mut self, start: &BytesStart, has_content: bool, position: usize) -> ParseResult<Value> {
        let declaration = match start.name().prefix() {
            Some(prefix) => {
                let prefix = String::from_utf8_lossy(prefix.as_ref()).into_owned();
                (attribute(start, format!("xmlns:{prefix}").as_bytes()).map_err(|e| self.syntax(e))?.is_none())
                    .then(|| format!(" xmlns:{prefix}=\"{XHTML_NS}\""))
            }
            None => (attribute(start, b"xmlns").map_err(|e| self.syntax(e))?.is_none())
                .then(|| format!(" xmlns=\"{XHTML_NS}\"")),
        };
        if has_content {
            let end = start.to_end().into_owned();
            self.reader.read_to_end(end.name()).map_err(|e| self.syntax(e))?;
        }
        let end = self.reader.buffer_position() as usize;
        let raw = self.input.get(position..end).unwrap_or_default();
        let text = std::str::from_utf8(raw).map_err(|_| self.fail(IssueType::Structure, "narrative is not UTF-8"))?;
        if let Some(c) = text::first_forbidden(text) {
            return Err(self.forbidden(c));
        }
        let Some(declaration) = declaration else { return Ok(Value::String(text.to_string())) };
        // `position` is where `<` of the start tag is; the name follows it directly.
        let name_end = 1 + start.name().as_ref().len();
        let (head, tail) = text.split_at(name_end.min(text.len()));
        Ok(Value::String(format!("{head}{declaration}{tail}")))
    }
}

/// Removes companion arrays that carry nothing and value arrays that are only placeholders,
/// and pads companions to the length of their values.
fn tidy_companions(map: &mut Map<String, Value>) {
    let keys: Vec<String> = map.keys().filter(|k| k.starts_with('_')).cloned().collect();
    for key in keys {
        let base = key[1..].to_string();
        let value_len = map.get(&base).and_then(Value::as_array).map(Vec::len);
        if let Some(Value::Array(items)) = map.get_mut(&key) {
            if let Some(n) = value_len {
                items.resize(n.max(items.len()), Value::Null);
            }
            if items.iter().all(Value::is_null) {
                map.remove(&key);
            }
        }
        let companion_len = map.get(&key).and_then(Value::as_array).map(Vec::len);
        if let Some(Value::Array(items)) = map.get_mut(&base) {
            if let Some(n) = companion_len {
                items.resize(n.max(items.len()), Value::Null);
            }
            if items.iter().all(Value::is_null) {
                map.remove(&base);
            }
        }
    }
}

fn local_name(start: &BytesStart) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

fn attribute(start: &BytesStart, name: &[u8]) -> Result<Option<String>, quick_xml::Error> {
    for attr in start.attributes() {
        let attr = attr.map_err(quick_xml::Error::from)?;
        if attr.key.as_ref() == name {
            return Ok(Some(attr.unescape_value()?.into_owned()));
        }
    }
    Ok(None)
}

fn is_blank(text: &[u8]) -> bool {
    text.iter().all(u8::is_ascii_whitespace)
}

/// JSON number grammar, which is also FHIR's decimal/integer lexical form.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

// ---------------------------------------------------------------------------------------------
// JSON → XML

/// Writes a (valid) FHIR JSON resource as FHIR XML.
pub fn write(model: &Model, resource: &Value, pretty: bool) -> Result<String, String> {
    let mut w = Writer { model, out: String::with_capacity(4096), pretty, depth: 0 };
    w.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    w.newline();
    w.resource(resource, true)?;
    if pretty {
        w.out.push('\n');
    }
    Ok(w.out)
}

struct Writer<'a> {
    model: &'a Model,
    out: String,
    pretty: bool,
    depth: usize,
}

impl Writer<'_> {
    fn newline(&mut self) {
        if self.pretty {
            self.out.push('\n');
        }
    }

    fn indent(&mut self) {
        if self.pretty {
            for _ in 0..self.depth {
                self.out.push_str("  ");
            }
        }
    }

    fn resource(&mut self, value: &Value, root: bool) -> Result<(), String> {
        let obj = value.as_object().ok_or("a resource must be an object")?;
        let rt = obj.get("resourceType").and_then(Value::as_str).ok_or("resource without resourceType")?;
        let def = self.model.get(rt).ok_or_else(|| format!("unknown resource type '{rt}'"))?;
        self.indent();
        self.out.push('<');
        self.out.push_str(rt);
        if root {
            self.out.push_str(" xmlns=\"");
            self.out.push_str(FHIR_NS);
            self.out.push('"');
        }
        self.out.push('>');
        self.newline();
        self.depth += 1;
        self.elements(def, obj)?;
        self.depth -= 1;
        self.indent();
        self.out.push_str("</");
        self.out.push_str(rt);
        self.out.push('>');
        self.newline();
        Ok(())
    }

    /// Child elements in definition order; XML attributes are written by the caller.
    fn elements(&mut self, def: &TypeDef, obj: &Map<String, Value>) -> Result<(), String> {
        let mut order: Vec<(usize, usize, &str)> = Vec::with_capacity(obj.len());
        for (position, key) in obj.keys().enumerate() {
            if key == "resourceType" {
                continue;
            }
            let base = key.strip_prefix('_').unwrap_or(key);
            if key.starts_with('_') && obj.contains_key(base) {
                continue; // written together with its value
            }
            let index = def.element_index(base).ok_or_else(|| format!("unknown element '{key}' in {}", def.name))?;
            order.push((index, position, base));
        }
        order.sort_unstable();
        for (_, _, name) in order {
            let Some((element, type_name)) = def.field(name) else { continue };
            if element.xml_attr {
                continue;
            }
            let value = obj.get(name).unwrap_or(&Value::Null);
            let companion = obj.get(&format!("_{name}")).unwrap_or(&Value::Null);
            match (value, companion) {
                (Value::Array(_), _) | (Value::Null, Value::Array(_)) => {
                    let values = value.as_array().map(Vec::as_slice).unwrap_or_default();
                    let companions = companion.as_array().map(Vec::as_slice).unwrap_or_default();
                    for i in 0..values.len().max(companions.len()) {
                        let v = values.get(i).unwrap_or(&Value::Null);
                        let c = companions.get(i).unwrap_or(&Value::Null);
                        self.element(name, type_name, v, c)?;
                    }
                }
                _ => self.element(name, type_name, value, companion)?,
            }
        }
        Ok(())
    }

    fn element(&mut self, name: &str, type_name: &str, value: &Value, companion: &Value) -> Result<(), String> {
        if type_name == "xhtml" {
            let div = value.as_str().ok_or("narrative div must be a string")?;
            self.indent();
            // JSON clients may leave the namespace out; in XML it is what makes the div XHTML.
            match super::xhtml::undeclared_name_end(div) {
                Some(at) => {
                    self.out.push_str(&div[..at]);
                    self.out.push_str(" xmlns=\"");
                    self.out.push_str(XHTML_NS);
                    self.out.push('"');
                    self.out.push_str(&div[at..]);
                }
                None => self.out.push_str(div),
            }
            self.newline();
            return Ok(());
        }
        if self.model.is_primitive(type_name) {
            return self.primitive(name, value, companion);
        }
        if type_name == "Resource" || self.model.is_resource_type(type_name) {
            self.open(name, &[]);
            self.depth += 1;
            self.resource(value, false)?;
            self.depth -= 1;
            self.close(name);
            return Ok(());
        }
        let def = self.model.get(type_name).ok_or_else(|| format!("no definition for type '{type_name}'"))?;
        let obj = value.as_object().ok_or_else(|| format!("'{name}' must be an object"))?;
        let attrs: Vec<(&str, String)> = ["id", "url"]
            .into_iter()
            .filter(|a| def.field(a).is_some_and(|(e, _)| e.xml_attr))
            .filter_map(|a| obj.get(a).and_then(Value::as_str).map(|v| (a, v.to_string())))
            .collect();
        let has_children = obj.keys().any(|k| !(attrs.iter().any(|(a, _)| a == k)));
        if !has_children {
            self.empty(name, &attrs);
            return Ok(());
        }
        self.open(name, &attrs);
        self.depth += 1;
        self.elements(def, obj)?;
        self.depth -= 1;
        self.close(name);
        Ok(())
    }

    fn primitive(&mut self, name: &str, value: &Value, companion: &Value) -> Result<(), String> {
        let mut attrs: Vec<(&str, String)> = Vec::with_capacity(2);
        if let Some(id) = companion.get("id").and_then(Value::as_str) {
            attrs.push(("id", id.to_string()));
        }
        match value {
            Value::Null => {}
            Value::Bool(b) => attrs.push(("value", b.to_string())),
            Value::Number(n) => attrs.push(("value", n.to_string())),
            Value::String(s) => attrs.push(("value", s.clone())),
            _ => return Err(format!("'{name}' must be a primitive value")),
        }
        let extensions = companion.get("extension");
        match extensions {
            Some(ext) => {
                self.open(name, &attrs);
                self.depth += 1;
                let def = self.model.get("Element").ok_or("no definition for Element")?;
                let only_extensions: Map<String, Value> =
                    std::iter::once(("extension".to_string(), ext.clone())).collect();
                self.elements(def, &only_extensions)?;
                self.depth -= 1;
                self.close(name);
            }
            None => self.empty(name, &attrs),
        }
        Ok(())
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_attribute(&mut self.out, value);
            self.out.push('"');
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.start_tag(name, attrs);
        self.out.push('>');
        self.newline();
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.start_tag(name, attrs);
        self.out.push_str("/>");
        self.newline();
    }

    fn close(&mut self, name: &str) {
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self.newline();
    }
}

/// Escapes an attribute value so that it reads back exactly, including line breaks and tabs,
/// which XML would otherwise normalise to spaces.
fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            '\t' => out.push_str("&#x9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn round_trip(v: Value) -> Value {
        let model = crate::model::r4().expect("model");
        let xml = write(model, &v, true).expect("write");
        parse(model, xml.as_bytes()).unwrap_or_else(|e| panic!("{e:?}\n{xml}"))
    }

    #[test]
    fn primitives_extensions_and_order() {
        let v: Value = serde_json::from_str(r#"{
            "resourceType": "Patient", "id": "x",
            "extension": [{"url": "http://e", "valueDecimal": 1.50}],
            "name": [{"given": ["A", null, "C"], "_given": [null, {"extension": [{"url": "http://u", "valueCode": "x"}]}, {"id": "g3"}], "family": "Ż"}],
            "active": true,
            "multipleBirthInteger": 2,
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">  a\n <b>b</b></div>"},
            "contained": [{"resourceType": "Organization", "id": "o", "name": "line1\nline2 \"q\""}]
        }"#).expect("json");
        let back = round_trip(v.clone());
        assert_eq!(back, v);
        assert_eq!(back["extension"][0]["valueDecimal"].to_string(), "1.50");
    }

    #[test]
    fn rejects_unknown_and_bad_values() {
        let model = crate::model::r4().expect("model");
        let bad = br#"<Patient xmlns="http://hl7.org/fhir"><nick value="x"/></Patient>"#;
        let e = parse(model, bad).expect_err("unknown element");
        assert_eq!(e[0].expression.as_deref(), Some("Patient.nick"));
        let bad = br#"<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>"#;
        assert!(parse(model, bad).is_err());
        let bad = br#"<Patient xmlns="http://hl7.org/fhir"><active value="true"/><active value="true"/></Patient>"#;
        assert!(parse(model, bad).is_err());
        let bad = br#"<Patient><active value="true"/></Patient>"#;
        assert!(parse(model, bad).is_err(), "namespace required");
        assert!(parse(model, b"<Patient xmlns=\"http://hl7.org/fhir\">").is_err());
    }

    #[test]
    fn namespaces() {
        let model = crate::model::r4().expect("model");
        let ok = |xml: &str| parse(model, xml.as_bytes()).unwrap_or_else(|e| panic!("{e:?}: {xml}"));
        let bad = |xml: &str| parse(model, xml.as_bytes()).expect_err(xml)[0].clone();
        let e = bad(
            r#"<Patient xmlns="http://hl7.org/fhir"><x:active xmlns:x="http://evil.example" value="true"/></Patient>"#,
        );
        assert_eq!(e.expression.as_deref(), Some("Patient.active"));
        bad(r#"<Patient xmlns="http://hl7.org/fhir"><active xmlns="" value="true"/></Patient>"#);
        bad(r#"<Patient xmlns="http://hl7.org/fhir"><y:active value="true"/></Patient>"#);
        bad(r#"<Patient xmlns="http://hl7.org/fhir"><contained><x:Patient xmlns:x="urn:x"/></contained></Patient>"#);
        bad(r#"<x:Patient xmlns:x="urn:x"/>"#);
        let v = ok(r#"<f:Patient xmlns:f="http://hl7.org/fhir"><f:active value="true"/></f:Patient>"#);
        assert_eq!(v["active"], true);
        let v = ok(
            r#"<Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir ../patient.xsd"><active xsi:type="x" value="true"/></Patient>"#,
        );
        assert_eq!(v, serde_json::json!({"resourceType": "Patient", "active": true}));
        // Attributes: only FHIR's own, unqualified.
        bad(r#"<Patient xmlns="http://hl7.org/fhir" xmlns:f="http://hl7.org/fhir"><active f:value="true"/></Patient>"#);
        bad(r#"<Patient xmlns="http://hl7.org/fhir"><active value="true" extra="1"/></Patient>"#);
        bad(r#"<Patient xmlns="http://hl7.org/fhir" lang="pl"/>"#);
        // Narratives: XHTML namespace, prefixed or not, declared on the div or on an ancestor.
        let div = r#"<h:div xmlns:h="http://www.w3.org/1999/xhtml"><h:p>x</h:p></h:div>"#;
        let v = ok(&format!(
            r#"<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/>{div}</text></Patient>"#
        ));
        assert_eq!(v["text"]["div"], div);
        let v = ok(
            r#"<f:Patient xmlns:f="http://hl7.org/fhir" xmlns="http://www.w3.org/1999/xhtml"><f:text><f:status value="generated"/><div><p>x</p></div></f:text></f:Patient>"#,
        );
        assert_eq!(v["text"]["div"], r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>"#);
        bad(
            r#"<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div><p>x</p></div></text></Patient>"#,
        );
    }

    #[test]
    fn characters_and_entities() {
        let model = crate::model::r4().expect("model");
        let bad = |xml: &[u8]| parse(model, xml).expect_err(&String::from_utf8_lossy(xml))[0].clone();
        let e = bad(b"<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"a\x00b\"/></Patient>");
        assert_eq!(e.code, IssueType::Value);
        for reference in ["&#0;", "&#x1;", "&#31;", "&#xFFFF;"] {
            let xml = format!(r#"<Patient xmlns="http://hl7.org/fhir"><gender value="a{reference}"/></Patient>"#);
            bad(xml.as_bytes());
        }
        bad(b"<Patient xmlns=\"http://hl7.org/fhir\"><!-- \x01 --></Patient>");
        let e = bad(br#"<?xml version="1.0"?><!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><gender value="&xxe;"/></Patient>"#);
        assert_eq!(e.code, IssueType::Security);
        bad(br#"<Patient xmlns="http://hl7.org/fhir"><gender value="&lol;"/></Patient>"#);
        let ok =
            parse(model, "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"a&#9;&#xA;b\"/></Patient>".as_bytes());
        assert_eq!(ok.expect("tab and newline")["gender"], "a\t\nb");
    }

    #[test]
    fn decimals_keep_their_form() {
        let model = crate::model::r4().expect("model");
        for n in ["1E2", "1.0e0", "-0.00", "1e-3", "6.0221409e+23"] {
            let xml = format!(
                r#"<Observation xmlns="http://hl7.org/fhir"><valueQuantity><value value="{n}"/></valueQuantity></Observation>"#
            );
            let v = parse(model, xml.as_bytes()).expect(n);
            assert_eq!(v["valueQuantity"]["value"].to_string(), n);
            assert!(write(model, &v, false).expect("write").contains(&format!("<value value=\"{n}\"/>")));
        }
        for n in ["01", "1.", ".5", "+1", "NaN", "1,5", " 1", "0x1"] {
            let xml = format!(
                r#"<Observation xmlns="http://hl7.org/fhir"><valueQuantity><value value="{n}"/></valueQuantity></Observation>"#
            );
            assert!(parse(model, xml.as_bytes()).is_err(), "{n}");
        }
    }
}
