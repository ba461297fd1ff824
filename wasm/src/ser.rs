//! Rust values into JSON text through serde, and into plain JS values as `JSON.parse` of that
//! text: the values serde-wasm-bindgen's `Serializer::json_compatible()` builds (`tests/node.rs`
//! checks both agree), in much less wasm than its value-by-value JS calls. A float is printed
//! by JS (`JSON.stringify`), so Rust's float printing stays out of the module.
//!
//! The JSON: `None` and `()` are `null`, a unit variant is `"Variant"`, any other variant
//! `{ "Variant": payload }`, maps and structs are objects (a map's keys must be strings), bytes are arrays of numbers, a float that is not finite is `null`, as
//! `JSON.stringify` writes it, and a 64-bit integer beyond 2^53 - 1 is refused.

use std::fmt;

use serde::ser::{self, Serialize};
use wasm_bindgen::JsValue;

/// Why a value could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Error {
        Error(message.to_string())
    }
}

type Result<T> = std::result::Result<T, Error>;

/// `value` as JSON text.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut json = Json(String::new());
    value.serialize(&mut json)?;
    Ok(json.0)
}

/// `value` as a plain JS value (`JSON.parse` of [`to_json`]).
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<JsValue> {
    js_sys::JSON::parse(&to_json(value)?)
        .map_err(|_| Error("the serialised JSON did not parse".to_owned()))
}

/// The JSON written so far.
struct Json(String);

impl Json {
    fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let out = &mut self.0;
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    out.push_str("\\u00");
                    out.push(HEX[(c as usize) >> 4] as char);
                    out.push(HEX[(c as usize) & 0xf] as char);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn integer(&mut self, n: impl fmt::Display) -> Result<()> {
        self.0.push_str(&n.to_string());
        Ok(())
    }

    /// A 64-bit integer, refused beyond what a JS number holds exactly (as serde-wasm-bindgen
    /// refuses it).
    fn wide(&mut self, n: i128) -> Result<()> {
        const MAX_SAFE: i128 = 9_007_199_254_740_991;
        if !(-MAX_SAFE..=MAX_SAFE).contains(&n) {
            return Err(Error(format!(
                "{n} can't be represented as a JavaScript number"
            )));
        }
        self.integer(n)
    }

    /// Opens `{ "variant": ` around a variant's payload.
    fn variant(&mut self, variant: &str) {
        self.0.push('{');
        self.string(variant);
        self.0.push(':');
    }
}

/// An array or object being written: whether an element was written yet, and what closes it.
pub struct Compound<'a> {
    json: &'a mut Json,
    first: bool,
    close: &'static str,
}

impl Compound<'_> {
    fn comma(&mut self) {
        if !self.first {
            self.json.0.push(',');
        }
        self.first = false;
    }

    fn end(self) -> Result<()> {
        self.json.0.push_str(self.close);
        Ok(())
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.comma();
        value.serialize(&mut *self.json)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        self.comma();
        self.json.string(key);
        self.json.0.push(':');
        value.serialize(&mut *self.json)
    }
}

impl<'a> ser::Serializer for &'a mut Json {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.0.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<()> {
        self.integer(v)
    }

    fn serialize_i16(self, v: i16) -> Result<()> {
        self.integer(v)
    }

    fn serialize_i32(self, v: i32) -> Result<()> {
        self.integer(v)
    }

    fn serialize_i64(self, v: i64) -> Result<()> {
        self.wide(i128::from(v))
    }

    fn serialize_u8(self, v: u8) -> Result<()> {
        self.integer(v)
    }

    fn serialize_u16(self, v: u16) -> Result<()> {
        self.integer(v)
    }

    fn serialize_u32(self, v: u32) -> Result<()> {
        self.integer(v)
    }

    fn serialize_u64(self, v: u64) -> Result<()> {
        self.wide(i128::from(v))
    }

    fn serialize_f32(self, v: f32) -> Result<()> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<()> {
        // JS prints it (`null` when not finite): no float printing in the wasm.
        let text = js_sys::JSON::stringify(&JsValue::from_f64(v))
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_else(|| "null".to_owned());
        self.0.push_str(&text);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<()> {
        self.string(v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for byte in v {
            seq.element(byte)?;
        }
        seq.end()
    }

    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<()> {
        self.0.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.string(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.variant(variant);
        value.serialize(&mut *self)?;
        self.0.push('}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>> {
        self.0.push('[');
        Ok(Compound {
            json: self,
            first: true,
            close: "]",
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>> {
        self.variant(variant);
        self.0.push('[');
        Ok(Compound {
            json: self,
            first: true,
            close: "]}",
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>> {
        self.0.push('{');
        Ok(Compound {
            json: self,
            first: true,
            close: "}",
        })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>> {
        self.variant(variant);
        self.0.push('{');
        Ok(Compound {
            json: self,
            first: true,
            close: "}}",
        })
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }

    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }

    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }

    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }

    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    /// A key is written like any value, and must be a string (serde-wasm-bindgen refuses
    /// other keys in objects too).
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.comma();
        let key = to_json(key)?;
        if !key.starts_with('"') {
            return Err(Error("a map key must be a string".to_owned()));
        }
        self.json.0.push_str(&key);
        self.json.0.push(':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.json)
    }

    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}
