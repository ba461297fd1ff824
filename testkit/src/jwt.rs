//! The parts of a compact JWS that both verifiers need; the signature check is theirs.

use serde_json::{Map, Value};

use crate::b64;

pub(crate) struct Jwt<'a> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(claims)`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

pub(crate) fn parse(token: &str) -> Result<Jwt<'_>, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("JWT must have three dot-separated parts".into());
    };
    let header = json_object(h).ok_or("JWT header is not base64url JSON object")?;
    let claims = json_object(c).ok_or("JWT claims are not a base64url JSON object")?;
    let signature = b64::decode(s).ok_or("JWT signature is not base64url")?;
    Ok(Jwt {
        header,
        claims,
        signing_input: &token[..h.len() + 1 + c.len()],
        signature,
    })
}

fn json_object(part: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&b64::decode(part)?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

impl Jwt<'_> {
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// NumericDate claims; JSON numbers with a fraction are allowed by RFC 7519.
    pub fn time_claim(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    }
}
