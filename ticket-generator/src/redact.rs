//! Redaction of what users' pages sent before it leaves the machine (to a
//! model or a tracker) or reaches a log: query strings and fragments, user
//! info in URLs, emails, bearer and basic credentials, JWTs, API keys of the
//! common providers and `key=value` secrets, long opaque tokens, and
//! card-like or other long digit runs.
//!
//! It is applied to the strings that came from pages (URLs, selectors,
//! labels, error messages, stacks), never to UFSE's own ids, which are
//! long hex tokens by design.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// What replaces a match.
#[derive(Clone, Copy)]
enum With {
    /// This text (`${1}` and the like refer to the pattern's groups).
    Text(&'static str),
    /// `[token]`, when the match mixes letters and digits (long words stay).
    Opaque,
}

/// Each pattern and what replaces it, applied in order.
static RULES: LazyLock<Vec<(Regex, With)>> = LazyLock::new(|| {
    use With::{Opaque, Text};
    let rules: &[(&str, With)] = &[
        // User info in URLs: scheme://user:password@host.
        (r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@", Text("${1}")),
        // Query strings and fragments, wherever a URL or a path carries them.
        // A stack frame's `:line:col` after a URL's query stays.
        (
            r#"(?i)(https?://[^\s"'<>?#]*|/[^\s"'<>?#]*)[?#][^\s"'<>)]*?((?::\d+){1,2})?([\s"'<>)]|$)"#,
            Text("${1}${2}${3}"),
        ),
        (r#"\?[A-Za-z0-9_.\-\[\]%]+=[^\s"'<>)]*"#, Text("")),
        // JSON Web Tokens (three base64url parts, the first a JSON header).
        (r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}", Text("[jwt]")),
        // Credentials in an Authorization header or copied from one.
        (r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}", Text("${1} [secret]")),
        // API keys with well-known shapes (OpenAI, Anthropic, Stripe, Linear, GitHub, Slack, AWS, Google, UFSE).
        (
            r"\b(?:sk-ant-[A-Za-z0-9_-]{16,}|sk-[A-Za-z0-9_-]{16,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|lin_(?:api|oauth)_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|uk_[0-9a-f]{32})\b",
            Text("[secret]"),
        ),
        // `password=...`, `"api_key": "..."` and the like.
        (
            r#"(?i)\b(api[_-]?key|apikey|secret|password|passwd|pwd|token|access[_-]?token|refresh[_-]?token|auth|session[_-]?id)(["']?\s*[=:]\s*["']?)[^\s"',;&)}]+"#,
            Text("${1}${2}[secret]"),
        ),
        // Emails.
        (r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b", Text("[email]")),
        // Long opaque tokens: 32 or more of [A-Za-z0-9_-] with a letter and a digit.
        (r"\b[A-Za-z0-9_-]{32,}\b", Opaque),
        // Card numbers, phone and account numbers: 9 or more digits, single separators allowed.
        (r"\b\d(?:[ .-]?\d){8,}\b", Text("[number]")),
    ];
    rules.iter().map(|(p, r)| (Regex::new(p).expect("redaction patterns compile"), *r)).collect()
});

/// `text` with what may identify a person or grant access replaced by a
/// placeholder (`[email]`, `[secret]`, `[jwt]`, `[token]`, `[number]`).
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for (re, with) in RULES.iter() {
        if !re.is_match(&out) {
            continue;
        }
        let replaced = match *with {
            With::Text(t) => re.replace_all(&out, t).into_owned(),
            With::Opaque => re
                .replace_all(&out, |c: &regex::Captures| {
                    let t = &c[0];
                    let opaque =
                        t.bytes().any(|b| b.is_ascii_digit()) && t.bytes().any(|b| b.is_ascii_alphabetic());
                    if opaque {
                        "[token]".to_owned()
                    } else {
                        t.to_owned()
                    }
                })
                .into_owned(),
        };
        if replaced != *out {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// [`redact`] of an optional string.
pub fn redact_opt(text: Option<&str>) -> Option<String> {
    text.map(|t| redact(t).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_identifies_or_grants_access_is_replaced() {
        let cases = [
            ("https://shop.example.com/cart?coupon=SECRET1&u=2#pay", "https://shop.example.com/cart"),
            ("GET /api/orders?token=abc&x=1 failed", "GET /api/orders failed"),
            ("https://ann:hunter2@a.io/x", "https://a.io/x"),
            ("at f (https://a.io/app.js?v=SECRET:10:5)", "at f (https://a.io/app.js:10:5)"),
            ("https://a.io/app.js?v=SECRET:10", "https://a.io/app.js:10"),
            ("see https://a.io/x?t=SECRET and more", "see https://a.io/x and more"),
            ("mail ann.lee+shop@example.co.uk now", "mail [email] now"),
            ("Authorization: Bearer abcdef123456789", "Authorization: Bearer [secret]"),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
                "jwt [jwt]",
            ),
            ("key sk-proj-abcdefghijklmnop1234 leaked", "key [secret] leaked"),
            ("sk-ant-api03-abcdefghijklmnopqrstu", "[secret]"),
            ("lin_api_0123456789abcdefABCDEF", "[secret]"),
            ("AKIAIOSFODNN7EXAMPLE", "[secret]"),
            ("uk_0123456789abcdef0123456789abcdef", "[secret]"),
            ("{\"password\": \"pa55word\", \"user\": 1}", "{\"password\": \"[secret]\", \"user\": 1}"),
            ("api_key=abc123&x", "api_key=[secret]&x"),
            ("card 4111 1111 1111 1111 declined", "card [number] declined"),
            ("call +1 555-123-4567 now", "call +[number] now"),
            ("order 123456789012 failed", "order [number] failed"),
            ("reset/Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg", "reset/[token]"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn what_a_developer_needs_stays() {
        let keep = [
            "TypeError: Cannot read properties of undefined (reading 'total')",
            "at Cart.checkout (https://shop.example.com/static/js/main.4f3a2b1c.js:1:23456)",
            "div.cart > button#checkout.btn",
            "POST /api/orders 503 after 1200 ms",
            "version 1.4.2 on 2026-12-07",
            "Failed to fetch",
            "internationalizationAndLocalization",
        ];
        for text in keep {
            assert_eq!(redact(text), text);
            assert!(matches!(redact(text), Cow::Borrowed(_)), "nothing to do allocates nothing");
        }
    }
}
