//! Not API: internals the fuzz targets (crates/iron_fuzz, fuzz/) compare
//! against the public entry points. Hidden from the docs; may change freely.

use crate::error::LlmError;
use crate::format::ApiFormat;
use crate::request::ParsedRequest;

/// [`ParsedRequest::parse`] through the JSON tree only, bypassing the skim:
/// the reference the skimmed parse must agree with.
///
/// # Errors
/// As [`ParsedRequest::parse`].
pub fn parse_request_tree(format: ApiFormat, body: &[u8]) -> Result<ParsedRequest, LlmError> {
    ParsedRequest::parse_tree(format, body)
}
