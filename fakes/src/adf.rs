//! The structure Jira asks of an Atlassian Document Format document
//! (developer.atlassian.com, "Atlassian Document Format" and its node
//! pages): a `doc` of version 1 holding block nodes only, text nodes never
//! empty, headings with a level from 1 to 6, lists of list items whose
//! first child is a paragraph, tables of rows of cells holding blocks, code
//! blocks of unmarked text, and only known marks.

use serde_json::Value;

const TOP_BLOCKS: [&str; 12] = [
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "codeBlock",
    "blockquote",
    "rule",
    "table",
    "panel",
    "expand",
    "mediaSingle",
    "mediaGroup",
];
const INLINE: [&str; 7] = ["text", "hardBreak", "mention", "emoji", "date", "inlineCard", "status"];
const MARKS: [&str; 8] = ["strong", "em", "code", "link", "strike", "underline", "subsup", "textColor"];

/// Checks `doc`; what is wrong with it, with where.
///
/// # Errors
///
/// The first violation found.
pub fn check_adf(doc: &Value) -> Result<(), String> {
    if doc["type"] != "doc" || doc["version"] != 1 {
        return Err("the root must be {\"type\": \"doc\", \"version\": 1, ...}".into());
    }
    let content = doc["content"].as_array().ok_or("doc.content must be an array")?;
    for (i, b) in content.iter().enumerate() {
        let t = b["type"].as_str().unwrap_or("");
        if !TOP_BLOCKS.contains(&t) {
            return Err(format!("doc.content[{i}]: `{t}` is not a block node"));
        }
        block(b, &format!("doc.content[{i}]"))?;
    }
    Ok(())
}

fn children<'a>(n: &'a Value, at: &str) -> Result<&'a Vec<Value>, String> {
    n["content"].as_array().ok_or_else(|| format!("{at}: content must be an array"))
}

fn block(n: &Value, at: &str) -> Result<(), String> {
    let t = n["type"].as_str().unwrap_or("");
    match t {
        "paragraph" => inlines(n, at, true),
        "heading" => {
            let level = n["attrs"]["level"].as_i64().unwrap_or(0);
            if !(1..=6).contains(&level) {
                return Err(format!("{at}: a heading needs attrs.level from 1 to 6"));
            }
            inlines(n, at, true)
        }
        "bulletList" | "orderedList" => {
            let items = children(n, at)?;
            if items.is_empty() {
                return Err(format!("{at}: a list needs at least one listItem"));
            }
            for (i, li) in items.iter().enumerate() {
                let at = format!("{at}.content[{i}]");
                if li["type"] != "listItem" {
                    return Err(format!("{at}: a list holds listItems only"));
                }
                let parts = children(li, &at)?;
                match parts.first().and_then(|p| p["type"].as_str()) {
                    Some("paragraph") | Some("codeBlock") | Some("mediaSingle") => {}
                    _ => return Err(format!("{at}: a listItem must begin with a paragraph")),
                }
                for (j, p) in parts.iter().enumerate() {
                    block(p, &format!("{at}.content[{j}]"))?;
                }
            }
            Ok(())
        }
        "codeBlock" => {
            for (i, c) in n["content"].as_array().into_iter().flatten().enumerate() {
                if c["type"] != "text" || c.get("marks").is_some() {
                    return Err(format!("{at}.content[{i}]: a codeBlock holds unmarked text only"));
                }
                if c["text"].as_str().is_none_or(str::is_empty) {
                    return Err(format!("{at}.content[{i}]: text must not be empty"));
                }
            }
            Ok(())
        }
        "rule" => Ok(()),
        "table" => {
            for (i, row) in children(n, at)?.iter().enumerate() {
                let at = format!("{at}.content[{i}]");
                if row["type"] != "tableRow" {
                    return Err(format!("{at}: a table holds tableRows only"));
                }
                for (j, cell) in children(row, &at)?.iter().enumerate() {
                    let at = format!("{at}.content[{j}]");
                    if cell["type"] != "tableCell" && cell["type"] != "tableHeader" {
                        return Err(format!("{at}: a tableRow holds tableCells or tableHeaders only"));
                    }
                    let blocks = children(cell, &at)?;
                    if blocks.is_empty() {
                        return Err(format!("{at}: a cell holds at least one block"));
                    }
                    for (k, b) in blocks.iter().enumerate() {
                        let at = format!("{at}.content[{k}]");
                        if !TOP_BLOCKS.contains(&b["type"].as_str().unwrap_or("")) {
                            return Err(format!("{at}: a cell holds blocks, not `{}`", b["type"]));
                        }
                        block(b, &at)?;
                    }
                }
            }
            Ok(())
        }
        "blockquote" | "panel" | "expand" => {
            for (i, b) in children(n, at)?.iter().enumerate() {
                block(b, &format!("{at}.content[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn inlines(n: &Value, at: &str, may_be_empty: bool) -> Result<(), String> {
    let Some(items) = n["content"].as_array() else {
        return if may_be_empty { Ok(()) } else { Err(format!("{at}: content must be an array")) };
    };
    for (i, c) in items.iter().enumerate() {
        let at = format!("{at}.content[{i}]");
        let t = c["type"].as_str().unwrap_or("");
        if !INLINE.contains(&t) {
            return Err(format!("{at}: `{t}` is not an inline node"));
        }
        if t == "text" {
            if c["text"].as_str().is_none_or(str::is_empty) {
                return Err(format!("{at}: text must not be empty"));
            }
            for m in c["marks"].as_array().into_iter().flatten() {
                let mt = m["type"].as_str().unwrap_or("");
                if !MARKS.contains(&mt) {
                    return Err(format!("{at}: `{mt}` is not a mark"));
                }
                if mt == "link" && m["attrs"]["href"].as_str().is_none() {
                    return Err(format!("{at}: a link mark needs attrs.href"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_jira_refuses_is_refused() {
        let ok = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "hi", "marks": [{"type": "strong"}]}]},
            {"type": "rule"},
        ]});
        assert!(check_adf(&ok).is_ok());
        let bad = |content: Value| {
            check_adf(&json!({"type": "doc", "version": 1, "content": content})).unwrap_err()
        };
        assert!(bad(json!([{"type": "text", "text": "loose"}])).contains("not a block node"));
        assert!(
            bad(json!([{"type": "paragraph", "content": [{"type": "text", "text": ""}]}])).contains("empty")
        );
        assert!(bad(json!([{"type": "heading", "content": []}])).contains("level"));
        assert!(bad(json!([{"type": "hardRule"}])).contains("not a block node"));
        assert!(bad(json!([{"type": "orderedList", "content": [{"type": "listItem", "content": [
            {"type": "bulletList", "content": []}]}]}]))
        .contains("begin with a paragraph"));
        assert!(bad(json!([{"type": "table", "content": [{"type": "tableRow", "content": [
            {"type": "tableCell", "content": [{"type": "text", "text": "x"}]}]}]}]))
        .contains("blocks"));
        assert!(check_adf(&json!("plain text")).is_err());
    }
}
