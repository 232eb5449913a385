//! Reading arguments into Rust values: the tuple rule on the way in.
//!
//! A tuple type reads the arguments positionally, `()` reads nothing, any other type reads the
//! first argument. Extra arguments are ignored (as Node does); a missing one is an error naming its
//! index, unless the type at that position is an `Option`, which becomes `None`.
//!
//! Only the top level is ours: a thin [`Deserializer`] looks at what the target asks for and
//! drives serde_json's own sequence over the received text (skipping the event name), so plain
//! JSON arguments are read in one pass with no intermediate tree. Arguments with binary go
//! through a msgpack tree instead (see `value.rs`); both share the positional logic below through
//! [`SeqAccess`].

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use rmpv::Value;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::error::{ArgsError, DeError};
use super::tree_de::ValueDe;

/// Where the arguments come from.
pub(crate) enum Source<'a> {
    /// A JSON array whose first `skip` items are not arguments (the event name).
    Json { text: &'a str, skip: usize },
    /// Already a list of trees.
    Values(&'a [Value]),
}

/// Deserializes arguments into `T` with the tuple rule.
pub(crate) fn deserialize<T: de::DeserializeOwned>(source: Source<'_>) -> Result<T, ArgsError> {
    let ctx = Ctx::default();
    T::deserialize(Top { source, ctx: &ctx })
}

/// Bookkeeping for error messages: which argument is being read, and which one was missing.
#[derive(Default)]
struct Ctx {
    current: Cell<usize>,
    missing: Cell<Option<usize>>,
}

impl Ctx {
    fn error(&self, message: String) -> ArgsError {
        match self.missing.get() {
            Some(index) => ArgsError::Missing { index },
            None => ArgsError::Invalid {
                index: self.current.get(),
                message,
            },
        }
    }
}

impl de::Error for ArgsError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ArgsError::Invalid {
            index: 0,
            message: msg.to_string(),
        }
    }
}

/// What the target asked of the top level.
enum Shape {
    Tuple(usize),
    One(Call),
}

/// A `deserialize_*` call, recorded so it can be replayed on the first argument.
enum Call {
    Any,
    Bool,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Char,
    Str,
    String,
    Bytes,
    ByteBuf,
    Option,
    UnitStruct(&'static str),
    NewtypeStruct(&'static str),
    Seq,
    TupleStruct(&'static str, usize),
    Map,
    Struct(&'static str, &'static [&'static str]),
    Enum(&'static str, &'static [&'static str]),
    Identifier,
}

impl Call {
    fn run<'de, D: Deserializer<'de>, V: Visitor<'de>>(
        self,
        d: D,
        v: V,
    ) -> Result<V::Value, D::Error> {
        match self {
            Call::Any => d.deserialize_any(v),
            Call::Bool => d.deserialize_bool(v),
            Call::I8 => d.deserialize_i8(v),
            Call::I16 => d.deserialize_i16(v),
            Call::I32 => d.deserialize_i32(v),
            Call::I64 => d.deserialize_i64(v),
            Call::I128 => d.deserialize_i128(v),
            Call::U8 => d.deserialize_u8(v),
            Call::U16 => d.deserialize_u16(v),
            Call::U32 => d.deserialize_u32(v),
            Call::U64 => d.deserialize_u64(v),
            Call::U128 => d.deserialize_u128(v),
            Call::F32 => d.deserialize_f32(v),
            Call::F64 => d.deserialize_f64(v),
            Call::Char => d.deserialize_char(v),
            Call::Str => d.deserialize_str(v),
            Call::String => d.deserialize_string(v),
            Call::Bytes => d.deserialize_bytes(v),
            Call::ByteBuf => d.deserialize_byte_buf(v),
            Call::Option => d.deserialize_option(v),
            Call::UnitStruct(name) => d.deserialize_unit_struct(name, v),
            Call::NewtypeStruct(name) => d.deserialize_newtype_struct(name, v),
            Call::Seq => d.deserialize_seq(v),
            Call::TupleStruct(name, len) => d.deserialize_tuple_struct(name, len, v),
            Call::Map => d.deserialize_map(v),
            Call::Struct(name, fields) => d.deserialize_struct(name, fields, v),
            Call::Enum(name, variants) => d.deserialize_enum(name, variants, v),
            Call::Identifier => d.deserialize_identifier(v),
        }
    }
}

/// The deserializer handed to the target type.
struct Top<'a> {
    source: Source<'a>,
    ctx: &'a Ctx,
}

impl<'a> Top<'a> {
    fn run<V: Visitor<'a>>(self, shape: Shape, visitor: V) -> Result<V::Value, ArgsError> {
        let ctx = self.ctx;
        match self.source {
            Source::Json { text, skip } => {
                let mut de = serde_json::Deserializer::from_str(text);
                de.deserialize_seq(Bridge {
                    skip,
                    shape,
                    visitor,
                    ctx,
                })
                .map_err(|e| ctx.error(e.to_string()))
            }
            Source::Values(items) => {
                visit_args(ValuesSeq { iter: items.iter() }, 0, shape, visitor, ctx)
                    .map_err(|e| ctx.error(e.0))
            }
        }
    }
}

macro_rules! top_one {
    ($($method:ident => $call:ident,)*) => {
        $(
            fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, ArgsError> {
                self.run(Shape::One(Call::$call), visitor)
            }
        )*
    };
}

impl<'a> Deserializer<'a> for Top<'a> {
    type Error = ArgsError;

    top_one! {
        deserialize_any => Any,
        deserialize_bool => Bool,
        deserialize_i8 => I8,
        deserialize_i16 => I16,
        deserialize_i32 => I32,
        deserialize_i64 => I64,
        deserialize_i128 => I128,
        deserialize_u8 => U8,
        deserialize_u16 => U16,
        deserialize_u32 => U32,
        deserialize_u64 => U64,
        deserialize_u128 => U128,
        deserialize_f32 => F32,
        deserialize_f64 => F64,
        deserialize_char => Char,
        deserialize_str => Str,
        deserialize_string => String,
        deserialize_bytes => Bytes,
        deserialize_byte_buf => ByteBuf,
        deserialize_option => Option,
        deserialize_seq => Seq,
        deserialize_map => Map,
        deserialize_identifier => Identifier,
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, ArgsError> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, ArgsError> {
        visitor.visit_unit()
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ArgsError> {
        self.run(Shape::Tuple(len), visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ArgsError> {
        self.run(Shape::One(Call::UnitStruct(name)), visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ArgsError> {
        self.run(Shape::One(Call::NewtypeStruct(name)), visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ArgsError> {
        self.run(Shape::One(Call::TupleStruct(name, len)), visitor)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ArgsError> {
        self.run(Shape::One(Call::Struct(name, fields)), visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ArgsError> {
        self.run(Shape::One(Call::Enum(name, variants)), visitor)
    }
}

/// serde_json visitor for the outer array: hands its sequence to [`visit_args`].
struct Bridge<'c, V> {
    skip: usize,
    shape: Shape,
    visitor: V,
    ctx: &'c Ctx,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Bridge<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        visit_args(seq, self.skip, self.shape, self.visitor, self.ctx)
    }
}

/// The tuple rule over any sequence of arguments: skip, read by shape, drain the rest.
fn visit_args<'de, A: SeqAccess<'de>, V: Visitor<'de>>(
    mut seq: A,
    skip: usize,
    shape: Shape,
    visitor: V,
    ctx: &Ctx,
) -> Result<V::Value, A::Error> {
    for _ in 0..skip {
        if seq.next_element::<IgnoredAny>()?.is_none() {
            break;
        }
    }
    let value = match shape {
        Shape::Tuple(len) => visitor.visit_seq(Positional {
            seq: &mut seq,
            index: 0,
            len,
            exhausted: false,
            ctx,
        })?,
        Shape::One(call) => {
            ctx.current.set(0);
            let mut slot = Some((call, visitor));
            match seq.next_element_seed(OneSeed { slot: &mut slot })? {
                Some(value) => value,
                None => match slot.take() {
                    Some((call, visitor)) => call.run(Missing::new(0, ctx), visitor)?,
                    None => return Err(de::Error::custom("argument reader used twice")),
                },
            }
        }
    };
    // Extra arguments are ignored, but serde_json wants the array read to its end.
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(value)
}

/// Replays the recorded call on the first argument. The call sits in a slot the caller can take
/// back when the sequence turns out to be empty (a seed is consumed only when there is an item).
struct OneSeed<'s, V> {
    slot: &'s mut Option<(Call, V)>,
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for OneSeed<'_, V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        match self.slot.take() {
            Some((call, visitor)) => call.run(d, visitor),
            None => Err(de::Error::custom("argument reader used twice")),
        }
    }
}

/// Lends a seed to the inner sequence so it can be taken back if there is no item.
struct SlotSeed<'s, T> {
    slot: &'s mut Option<T>,
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for SlotSeed<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        match self.slot.take() {
            Some(seed) => seed.deserialize(d),
            None => Err(de::Error::custom("argument reader used twice")),
        }
    }
}

/// The arguments as the elements of a tuple: exactly `len` of them, missing ones supplied by
/// [`Missing`].
struct Positional<'s, 'c, A> {
    seq: &'s mut A,
    index: usize,
    len: usize,
    exhausted: bool,
    ctx: &'c Ctx,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Positional<'_, '_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        if self.index >= self.len {
            return Ok(None);
        }
        let index = self.index;
        self.index += 1;
        self.ctx.current.set(index);
        let mut slot = Some(seed);
        if !self.exhausted {
            match self.seq.next_element_seed(SlotSeed { slot: &mut slot })? {
                Some(value) => return Ok(Some(value)),
                None => self.exhausted = true,
            }
        }
        match slot.take() {
            Some(seed) => seed.deserialize(Missing::new(index, self.ctx)).map(Some),
            None => Err(de::Error::custom("argument reader used twice")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.index.min(self.len))
    }
}

/// Stands for an argument the client did not send: `None` for an `Option`, an error otherwise.
struct Missing<'c, E> {
    index: usize,
    ctx: &'c Ctx,
    error: PhantomData<E>,
}

impl<'c, E> Missing<'c, E> {
    fn new(index: usize, ctx: &'c Ctx) -> Self {
        Missing {
            index,
            ctx,
            error: PhantomData,
        }
    }
}

impl<'de, E: de::Error> Deserializer<'de> for Missing<'_, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, E> {
        self.ctx.missing.set(Some(self.index));
        Err(E::custom(format_args!(
            "missing argument at index {}",
            self.index
        )))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_none()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// A slice of trees as a serde sequence (each item cloned, then handed over owned).
struct ValuesSeq<'a> {
    iter: std::slice::Iter<'a, Value>,
}

impl<'de> SeqAccess<'de> for ValuesSeq<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(v) => seed.deserialize(ValueDe::new(v.clone())).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}
