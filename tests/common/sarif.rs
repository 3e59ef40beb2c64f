//! The official SARIF 2.1.0 schema (committed under tests/fixtures/sarif/,
//! see its PROVENANCE) as a validator, shared by every test that checks a
//! SARIF log.
#![allow(dead_code)]

use serde_json::Value;

/// A draft-04 validator of the schema, with formats checked. Draft-04 has
/// no `uri-reference` format, so a plain draft-04 validator would never check
/// an artifactLocation.uri; this gives the format its RFC 3986 meaning.
pub fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sarif/sarif-schema-2.1.0.json"
    ))
    .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .with_format("uri-reference", |s| fluent_uri::UriRef::parse(s).is_ok())
        .build(&schema)
        .unwrap()
}

/// Every schema violation of `doc`, with where it is.
pub fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

/// Parses `out` and asserts it is a valid SARIF 2.1.0 log.
pub fn assert_valid(out: &str) -> Value {
    let doc: Value = serde_json::from_str(out).unwrap();
    assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
    doc
}
