//! The one way the core reads JSON it did not write (request bodies, JOSE headers and JWT
//! claims): bytes that are valid UTF-8 (every well-formed document) are read with serde_json's
//! `str` reader, which trusts that one check instead of validating every string again; anything
//! else takes the byte reader, so every error, and its position, is what the byte reader says.

use serde_json::de::{Read, SliceRead, StrRead};
use serde_json::Deserializer;

/// A reading of one JSON document, written once for both serde_json readers.
pub(crate) trait JsonRead<'de> {
    /// What the document is read into.
    type Output;

    /// Read the document from `de` (including any check that nothing follows it).
    fn read<R: Read<'de>>(self, de: Deserializer<R>) -> serde_json::Result<Self::Output>;
}

/// Read `bytes` with `reading`: the `str` reader when they are valid UTF-8, else the byte
/// reader.
pub(crate) fn read<'de, J: JsonRead<'de>>(
    bytes: &'de [u8],
    reading: J,
) -> serde_json::Result<J::Output> {
    match std::str::from_utf8(bytes) {
        Ok(text) => reading.read(Deserializer::new(StrRead::new(text))),
        Err(_) => reading.read(Deserializer::new(SliceRead::new(bytes))),
    }
}
