//! A small serde bridge between Rust values and plain JS values, in place of
//! serde-wasm-bindgen: values come out as `JSON.parse` would build them (absent options are
//! `null`, maps are objects, unit variants are strings).
//!
//! Its error carries no message on purpose: formatting serde's messages (`invalid type:
//! floating point `1.5`, expected …`) pulls `core::fmt` float formatting into the wasm, about
//! a fifth of the module. Callers report a fixed message instead.

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};
use wasm_bindgen::{JsCast, JsValue};

/// A value did not fit the Rust type (or could not be represented in JS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the value does not have the expected shape")
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(_: T) -> Error {
        Error
    }
}

// Every message-building default of `de::Error` is overridden so none is instantiated.
impl de::Error for Error {
    fn custom<T: std::fmt::Display>(_: T) -> Error {
        Error
    }
    fn invalid_type(_: de::Unexpected<'_>, _: &dyn de::Expected) -> Error {
        Error
    }
    fn invalid_value(_: de::Unexpected<'_>, _: &dyn de::Expected) -> Error {
        Error
    }
    fn invalid_length(_: usize, _: &dyn de::Expected) -> Error {
        Error
    }
    fn unknown_variant(_: &str, _: &'static [&'static str]) -> Error {
        Error
    }
    fn unknown_field(_: &str, _: &'static [&'static str]) -> Error {
        Error
    }
    fn missing_field(_: &'static str) -> Error {
        Error
    }
    fn duplicate_field(_: &'static str) -> Error {
        Error
    }
}

/// Converts a Rust value into a plain JS value.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, Error> {
    value.serialize(Serializer)
}

/// Reads a Rust value from a plain JS value.
pub fn from_value<T: de::DeserializeOwned>(value: JsValue) -> Result<T, Error> {
    T::deserialize(Deserializer(value))
}

fn set(target: &JsValue, key: &JsValue, value: &JsValue) -> Result<(), Error> {
    Reflect::set(target, key, value)
        .map(drop)
        .map_err(|_| Error)
}

/// `{ [variant]: value }`, the externally tagged form.
fn tagged(variant: &'static str, value: &JsValue) -> Result<JsValue, Error> {
    let object: JsValue = Object::new().into();
    set(&object, &variant.into(), value)?;
    Ok(object)
}

// ---------------------------------------------------------------------------------------------
// Rust → JS

struct Serializer;

/// Builds an array (sequences, tuples) or an object (maps, structs); `variant` wraps the
/// result as `{ [variant]: … }`.
pub struct Compound {
    target: JsValue,
    pending_key: JsValue,
    variant: Option<&'static str>,
}

impl Compound {
    fn array(variant: Option<&'static str>) -> Compound {
        Compound {
            target: Array::new().into(),
            pending_key: JsValue::UNDEFINED,
            variant,
        }
    }

    fn object(variant: Option<&'static str>) -> Compound {
        Compound {
            target: Object::new().into(),
            pending_key: JsValue::UNDEFINED,
            variant,
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let value = to_value(value)?;
        self.target.unchecked_ref::<Array>().push(&value);
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        set(&self.target, &key.into(), &to_value(value)?)
    }

    fn finish(self) -> Result<JsValue, Error> {
        match self.variant {
            Some(variant) => tagged(variant, &self.target),
            None => Ok(self.target),
        }
    }
}

impl ser::Serializer for Serializer {
    type Ok = JsValue;
    type Error = Error;
    type SerializeSeq = Compound;
    type SerializeTuple = Compound;
    type SerializeTupleStruct = Compound;
    type SerializeTupleVariant = Compound;
    type SerializeMap = Compound;
    type SerializeStruct = Compound;
    type SerializeStructVariant = Compound;

    fn serialize_bool(self, v: bool) -> Result<JsValue, Error> {
        Ok(JsValue::from_bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<JsValue, Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<JsValue, Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<JsValue, Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<JsValue, Error> {
        self.serialize_f64(v as f64)
    }
    fn serialize_u8(self, v: u8) -> Result<JsValue, Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<JsValue, Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<JsValue, Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<JsValue, Error> {
        self.serialize_f64(v as f64)
    }
    fn serialize_f32(self, v: f32) -> Result<JsValue, Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<JsValue, Error> {
        Ok(JsValue::from_f64(v))
    }
    fn serialize_char(self, v: char) -> Result<JsValue, Error> {
        Ok(JsValue::from_str(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<JsValue, Error> {
        Ok(JsValue::from_str(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<JsValue, Error> {
        Ok(Uint8Array::from(v).into())
    }
    fn serialize_none(self) -> Result<JsValue, Error> {
        Ok(JsValue::NULL)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<JsValue, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<JsValue, Error> {
        Ok(JsValue::NULL)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<JsValue, Error> {
        Ok(JsValue::NULL)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<JsValue, Error> {
        Ok(JsValue::from_str(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<JsValue, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<JsValue, Error> {
        tagged(variant, &to_value(value)?)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound, Error> {
        Ok(Compound::array(None))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound, Error> {
        Ok(Compound::array(None))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound, Error> {
        Ok(Compound::array(None))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound, Error> {
        Ok(Compound::array(Some(variant)))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound, Error> {
        Ok(Compound::object(None))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound, Error> {
        Ok(Compound::object(None))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound, Error> {
        Ok(Compound::object(Some(variant)))
    }
}

impl ser::SerializeSeq for Compound {
    type Ok = JsValue;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }
    fn end(self) -> Result<JsValue, Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound {
    type Ok = JsValue;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }
    fn end(self) -> Result<JsValue, Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound {
    type Ok = JsValue;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }
    fn end(self) -> Result<JsValue, Error> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound {
    type Ok = JsValue;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }
    fn end(self) -> Result<JsValue, Error> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound {
    type Ok = JsValue;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.pending_key = to_value(key)?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = std::mem::replace(&mut self.pending_key, JsValue::UNDEFINED);
        set(&self.target, &key, &to_value(value)?)
    }
    fn end(self) -> Result<JsValue, Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound {
    type Ok = JsValue;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<JsValue, Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound {
    type Ok = JsValue;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<JsValue, Error> {
        self.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// JS → Rust

struct Deserializer(JsValue);

/// Numbers that are safe integers reach visitors as integers (so integer fields accept them),
/// others as floats.
fn visit_number<'de, V: Visitor<'de>>(n: f64, visitor: V) -> Result<V::Value, Error> {
    if js_sys::Number::is_safe_integer(&JsValue::from_f64(n)) {
        if n < 0.0 {
            visitor.visit_i64(n as i64)
        } else {
            visitor.visit_u64(n as u64)
        }
    } else {
        visitor.visit_f64(n)
    }
}

impl<'de> de::Deserializer<'de> for Deserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.0;
        if value.is_null() || value.is_undefined() {
            visitor.visit_unit()
        } else if let Some(b) = value.as_bool() {
            visitor.visit_bool(b)
        } else if let Some(n) = value.as_f64() {
            visit_number(n, visitor)
        } else if let Some(s) = value.as_string() {
            visitor.visit_string(s)
        } else if Array::is_array(&value) {
            visitor.visit_seq(SeqAccess {
                items: value.unchecked_into(),
                next: 0,
            })
        } else if value.is_object() {
            visitor.visit_map(MapAccess::entries(&value))
        } else {
            Err(Error)
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.is_null() || self.0.is_undefined() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// Reads only the struct's own fields, skipping `undefined` ones (as absent).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if !self.0.is_object() {
            return Err(Error);
        }
        visitor.visit_map(FieldAccess {
            object: self.0,
            fields,
            value: JsValue::UNDEFINED,
        })
    }

    /// A string is a unit variant; `{ variant: value }` any other.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if self.0.is_string() {
            return visitor.visit_enum(EnumAccess {
                variant: self.0,
                value: None,
            });
        }
        if !self.0.is_object() {
            return Err(Error);
        }
        let keys = Object::keys(self.0.unchecked_ref::<Object>());
        if keys.length() != 1 {
            return Err(Error);
        }
        let variant = keys.get(0);
        let value = Reflect::get(&self.0, &variant).map_err(|_| Error)?;
        visitor.visit_enum(EnumAccess {
            variant,
            value: Some(value),
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct SeqAccess {
    items: Array,
    next: u32,
}

impl<'de> de::SeqAccess<'de> for SeqAccess {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.next >= self.items.length() {
            return Ok(None);
        }
        let item = self.items.get(self.next);
        self.next += 1;
        seed.deserialize(Deserializer(item)).map(Some)
    }
}

/// Every own enumerable property (`Object.entries`).
struct MapAccess {
    entries: Array,
    next: u32,
    value: JsValue,
}

impl MapAccess {
    fn entries(object: &JsValue) -> MapAccess {
        MapAccess {
            entries: Object::entries(object.unchecked_ref::<Object>()),
            next: 0,
            value: JsValue::UNDEFINED,
        }
    }
}

impl<'de> de::MapAccess<'de> for MapAccess {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.next >= self.entries.length() {
            return Ok(None);
        }
        let entry: Array = self.entries.get(self.next).unchecked_into();
        self.next += 1;
        self.value = entry.get(1);
        seed.deserialize(Deserializer(entry.get(0))).map(Some)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let value = std::mem::replace(&mut self.value, JsValue::UNDEFINED);
        seed.deserialize(Deserializer(value))
    }
}

/// A struct's fields, read by name.
struct FieldAccess {
    object: JsValue,
    fields: &'static [&'static str],
    value: JsValue,
}

impl<'de> de::MapAccess<'de> for FieldAccess {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        while let Some((&field, rest)) = self.fields.split_first() {
            self.fields = rest;
            let value = Reflect::get(&self.object, &field.into()).map_err(|_| Error)?;
            if !value.is_undefined() {
                self.value = value;
                let key: de::value::StrDeserializer<'_, Error> = field.into_deserializer();
                return seed.deserialize(key).map(Some);
            }
        }
        Ok(None)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let value = std::mem::replace(&mut self.value, JsValue::UNDEFINED);
        seed.deserialize(Deserializer(value))
    }
}

struct EnumAccess {
    variant: JsValue,
    value: Option<JsValue>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = Error;
    type Variant = VariantAccess;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantAccess), Error> {
        let variant = seed.deserialize(Deserializer(self.variant))?;
        Ok((variant, VariantAccess(self.value)))
    }
}

/// The value of `{ variant: value }`; `None` for a unit variant given as a string.
struct VariantAccess(Option<JsValue>);

impl VariantAccess {
    fn value(self) -> Result<Deserializer, Error> {
        self.0.map(Deserializer).ok_or(Error)
    }
}

impl<'de> de::VariantAccess<'de> for VariantAccess {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        match self.0 {
            None => Ok(()),
            Some(value) => <() as de::Deserialize>::deserialize(Deserializer(value)),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.value()?)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self.value()?, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        name: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self.value()?, "", name, visitor)
    }
}
