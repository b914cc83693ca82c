//! Text rules of the reference's JavaScript that differ from Rust's.

/// True for the characters JavaScript's `String.prototype.trim()` removes: ECMA-262
/// *WhiteSpace* (TAB, VT, FF, SP, NBSP, ZWNBSP U+FEFF and every other `Zs` character) and
/// *LineTerminator* (LF, CR, U+2028, U+2029).
///
/// Rust's [`char::is_whitespace`] (Unicode `White_Space`) differs in two characters: it
/// keeps U+FEFF and removes U+0085 (NEL), which JavaScript keeps.
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{0009}'
            | '\u{000A}'
            | '\u{000B}'
            | '\u{000C}'
            | '\u{000D}'
            | '\u{0020}'
            | '\u{00A0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// `s.trim()` as JavaScript computes it (see [`is_js_whitespace`]): the reference trims names
/// and titles this way (ref §3.1, §3.2, §3.5), so `"\u{feff}"` alone is blank and a name
/// ending in NEL keeps it.
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character JavaScript trims: ECMA-262 WhiteSpace (TAB, VT, FF, SP, NBSP, ZWNBSP
    /// and the `Zs` category of Unicode 15) and LineTerminator (LF, CR, LS, PS).
    const JS_TRIMMED: &[char] = &[
        '\u{0009}', '\u{000B}', '\u{000C}', '\u{0020}', '\u{00A0}', '\u{FEFF}', // WhiteSpace
        '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}',
        '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200A}', '\u{202F}', '\u{205F}',
        '\u{3000}', // Zs
        '\u{000A}', '\u{000D}', '\u{2028}', '\u{2029}', // LineTerminator
    ];

    #[test]
    fn trims_exactly_what_javascript_trims() {
        for c in '\u{0}'..='\u{FFFF}' {
            assert_eq!(
                is_js_whitespace(c),
                JS_TRIMMED.contains(&c),
                "U+{:04X}",
                c as u32
            );
        }
        for &c in JS_TRIMMED {
            let s = format!("{c}a{c}b{c}");
            assert_eq!(js_trim(&s), format!("a{c}b"), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn differs_from_rust_trim_where_javascript_does() {
        assert_eq!(js_trim("\u{feff}"), "");
        assert_eq!("\u{feff}".trim(), "\u{feff}");
        assert_eq!(js_trim("\u{85}Ada\u{85}"), "\u{85}Ada\u{85}");
        assert_eq!("\u{85}Ada\u{85}".trim(), "Ada");
        // Not whitespace for either: the Mongolian vowel separator (Zs before Unicode 6.3),
        // zero-width space.
        assert_eq!(js_trim("\u{180e}x\u{200b}"), "\u{180e}x\u{200b}");
        assert_eq!(js_trim(" \t\n x \r\n"), "x");
    }
}
