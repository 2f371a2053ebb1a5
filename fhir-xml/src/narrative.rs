//! Narrative XHTML (`Narrative.div`): in XML it is an element tree in the XHTML namespace,
//! in JSON a string holding that same XHTML.
//!
//! XML → JSON copies the markup as written (entities stay escaped, comments and whitespace
//! stay) so that a JSON → XML → JSON round trip gives back the identical string. Only two
//! things change, both as an XML parser would see them: CR LF line ends become LF, and
//! namespace prefixes are dropped, because the JSON form requires the default XHTML namespace
//! on the `div`.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

use crate::layout::XHTML_NS;
use crate::primitive::is_xml_char;

/// A problem in the narrative, at a byte offset of the text being read.
#[derive(Debug)]
pub(crate) struct DivError {
    pub(crate) message: String,
    pub(crate) offset: usize,
}

fn in_xhtml(r: &NsReader<&[u8]>, e: &BytesStart) -> bool {
    matches!(r.resolver().resolve_element(e.name()).0, ResolveResult::Bound(Namespace(ns)) if ns == XHTML_NS)
}

/// Reads the rest of a narrative whose `<div>` start tag was just read (`empty` for `<div/>`)
/// and returns the XHTML text, `<div xmlns="http://www.w3.org/1999/xhtml">` included.
pub(crate) fn read_div(
    r: &mut NsReader<&[u8]>,
    start: &BytesStart,
    empty: bool,
    start_offset: usize,
) -> Result<String, DivError> {
    let out = copy_div(r, start, empty, start_offset)?;
    // quick-xml does not check the XML `Char` production; a NUL copied through would make
    // the JSON unwritable as XML later.
    match out.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(DivError {
            message: format!("character U+{:04X} is not allowed in XML 1.0", c as u32),
            offset: start_offset,
        }),
        None => Ok(out),
    }
}

fn copy_div(r: &mut NsReader<&[u8]>, start: &BytesStart, empty: bool, start_offset: usize) -> Result<String, DivError> {
    let fail = |message: String, offset: usize| DivError { message, offset };
    if start.local_name().as_ref() != "div" || !in_xhtml(r, start) {
        return Err(fail(
            format!(
                "the narrative must be a <div> in the XHTML namespace (xmlns=\"{XHTML_NS}\"), found <{}>",
                start.name().as_ref()
            ),
            start_offset,
        ));
    }
    let mut out = String::with_capacity(256);
    write_tag(&mut out, start, true, if empty { "/>" } else { ">" }).map_err(|m| fail(m, start_offset))?;
    if empty {
        return Ok(out);
    }
    let mut depth = 1usize;
    loop {
        let at = r.buffer_position() as usize;
        let ev = r
            .read_event()
            .map_err(|e| fail(format!("malformed XML in narrative: {e}"), r.error_position() as usize))?;
        match ev {
            Event::Start(e) | Event::Empty(e) if !in_xhtml(r, &e) => {
                return Err(fail(
                    format!("element <{}> in the narrative is not in the XHTML namespace", e.name().as_ref()),
                    at,
                ));
            }
            Event::Start(e) => {
                write_tag(&mut out, &e, false, ">").map_err(|m| fail(m, at))?;
                depth += 1;
            }
            Event::Empty(e) => write_tag(&mut out, &e, false, "/>").map_err(|m| fail(m, at))?,
            Event::End(e) => {
                out.push_str("</");
                out.push_str(e.local_name().as_ref());
                out.push('>');
                depth -= 1;
                if depth == 0 {
                    return Ok(out);
                }
            }
            Event::Text(t) => push_normalized(&mut out, &t),
            Event::GeneralRef(g) => {
                let known = matches!(&*g, "lt" | "gt" | "amp" | "quot" | "apos");
                if !known && !matches!(g.resolve_char_ref(), Ok(Some(c)) if is_xml_char(c)) {
                    return Err(fail(
                        format!("entity &{}; is not defined in XML (only lt, gt, amp, quot, apos and character references are)", &*g),
                        at,
                    ));
                }
                out.push('&');
                out.push_str(&g);
                out.push(';');
            }
            Event::CData(c) => {
                out.push_str("<![CDATA[");
                push_normalized(&mut out, &c);
                out.push_str("]]>");
            }
            Event::Comment(c) => {
                out.push_str("<!--");
                push_normalized(&mut out, &c);
                out.push_str("-->");
            }
            Event::PI(p) => {
                out.push_str("<?");
                out.push_str(&p);
                out.push_str("?>");
            }
            Event::Decl(_) | Event::DocType(_) => {
                return Err(fail("XML declaration or DOCTYPE inside the narrative".into(), at));
            }
            Event::Eof => return Err(fail("the document ends inside the narrative <div>".into(), at)),
        }
    }
}

/// Checks that `div` (the JSON form) is one well-formed XHTML `<div>`, as XML output embeds it verbatim.
pub(crate) fn check_div(div: &str) -> Result<(), DivError> {
    let mut r = NsReader::from_str(div);
    r.config_mut().enable_all_checks(true);
    let mut seen_root = false;
    loop {
        let at = r.buffer_position() as usize;
        let ev = r
            .read_event()
            .map_err(|e| DivError { message: format!("malformed XHTML: {e}"), offset: r.error_position() as usize })?;
        match ev {
            Event::Start(e) | Event::Empty(e) if seen_root => {
                return Err(DivError {
                    message: format!("content <{}> after the narrative </div>", e.name().as_ref()),
                    offset: at,
                });
            }
            Event::Start(e) => {
                read_div(&mut r, &e, false, at)?;
                seen_root = true;
            }
            Event::Empty(e) => {
                read_div(&mut r, &e, true, at)?;
                seen_root = true;
            }
            Event::Text(t) if t.trim().is_empty() => {}
            Event::Comment(_) => {}
            Event::Eof if seen_root => return Ok(()),
            Event::Eof => return Err(DivError { message: "the narrative has no <div> element".into(), offset: at }),
            _ => return Err(DivError { message: "the narrative must be a single <div> element".into(), offset: at }),
        }
    }
}

/// Appends a start or empty tag; copies it as written unless a prefix or a missing default
/// namespace declaration forces a rewrite to `<name xmlns="...xhtml">` form.
fn write_tag(out: &mut String, e: &BytesStart, root: bool, close: &str) -> Result<(), String> {
    let mut declares_xhtml = false;
    for a in e.attributes() {
        let a = a.map_err(|err| format!("malformed attribute in the narrative: {err}"))?;
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| format!("bad attribute value in the narrative: {err}"))?;
        if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
            return Err(format!("character U+{:04X} is not allowed in XML 1.0", c as u32));
        }
        if a.key.as_ref() == "xmlns" && a.value == XHTML_NS {
            declares_xhtml = true;
        }
    }
    let prefixed = e.name().prefix().is_some();
    out.push('<');
    if !prefixed && (!root || declares_xhtml) {
        out.push_str(e.name().as_ref());
        push_normalized(out, e.attributes_raw());
    } else {
        out.push_str(e.local_name().as_ref());
        if root {
            out.push_str(" xmlns=\"");
            out.push_str(XHTML_NS);
            out.push('"');
        }
        for a in e.attributes().flatten() {
            let key = a.key.as_ref();
            // The XHTML bindings are replaced by the default namespace written above.
            let binds_xhtml = (key == "xmlns" || key.starts_with("xmlns:")) && a.value == XHTML_NS;
            if binds_xhtml || key == "xmlns" {
                continue;
            }
            let quote = if a.value.contains('"') { '\'' } else { '"' };
            out.push(' ');
            out.push_str(key);
            out.push('=');
            out.push(quote);
            push_normalized(out, &a.value);
            out.push(quote);
        }
    }
    out.push_str(close);
    Ok(())
}

/// Appends text with XML line-end normalization (CR LF and lone CR become LF), as a parser would.
fn push_normalized(out: &mut String, s: &str) {
    if !s.contains('\r') {
        out.push_str(s);
        return;
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
}
