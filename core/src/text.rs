//! Header-safe text: the one sanitizer for every value that goes into a `WWW-Authenticate`
//! attribute, also applied where a description quotes caller-chosen data (a `kid`, an `alg`),
//! so no layer needs the presentation layer to make text safe.

/// Maximum length of one sanitized attribute value.
pub const MAX_ATTRIBUTE_CHARS: usize = 200;

/// Make `s` safe inside a quoted header attribute: characters outside 0x20..=0x7E become one
/// space each, `\` and `"` become `'`, and the result is cut to 200 characters.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\\' | '"' => '\'',
            ' '..='~' => c,
            _ => ' ',
        })
        .take(MAX_ATTRIBUTE_CHARS)
        .collect()
}
