//! The seeds' tensor JSON: `{"model.0.0.weight": [[[[[…]]]]], …}`, each tensor a nested array
//! whose nesting is its shape. Read by a streaming visitor straight into flat `f32`s (no
//! intermediate `serde_json::Value`), with shape inference and errors that name the tensor and
//! the index where an array is ragged or a value is not a number.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{NamedTensors, Tensor, TensorError};

/// `{"name": nested array, …}` → tensors in document order.
pub fn read_object(json: &[u8]) -> Result<NamedTensors, TensorError> {
    let failure = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(json);
    let result = ObjectSeed { failure: &failure }
        .deserialize(&mut de)
        .and_then(|t| de.end().map(|_| t));
    result.map_err(|e| failure.take().unwrap_or(TensorError::Json(e.to_string())))
}

/// A JSON array of tensors (`[[…], [[…]]]`), or of numbers (one flat vector).
pub fn read_list(json: &[u8]) -> Result<Vec<Tensor>, TensorError> {
    let failure = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(json);
    let result = ListSeed { failure: &failure }
        .deserialize(&mut de)
        .and_then(|t| de.end().map(|_| t));
    result.map_err(|e| failure.take().unwrap_or(TensorError::Json(e.to_string())))
}

/// Tensors as deserialized from a field of a larger JSON body (`{"weights": {…}}`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonTensors(pub NamedTensors);

impl schemars::JsonSchema for JsonTensors {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JsonTensors".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Tensors by name, each a nested array of numbers",
            "additionalProperties": {"type": ["array", "number"]}
        })
    }
}

impl<'de> de::Deserialize<'de> for JsonTensors {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let failure = RefCell::new(None);
        ObjectSeed { failure: &failure }
            .deserialize(d)
            .map(JsonTensors)
            .map_err(|e| match failure.take() {
                Some(f) => de::Error::custom(f),
                None => e,
            })
    }
}

impl serde::Serialize for JsonTensors {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, t)| {
            (
                name,
                Nest {
                    shape: &t.shape,
                    data: &t.data,
                },
            )
        }))
    }
}

/// A tensor (or a slice of one) serialised as nested arrays.
struct Nest<'a> {
    shape: &'a [usize],
    data: &'a [f32],
}

impl serde::Serialize for Nest<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let Some((&n, inner)) = self.shape.split_first() else {
            return s.serialize_f32(self.data[0]);
        };
        let stride: usize = inner.iter().product();
        let mut seq = s.serialize_seq(Some(n))?;
        for i in 0..n {
            seq.serialize_element(&Nest {
                shape: inner,
                data: &self.data[i * stride..(i + 1) * stride],
            })?;
        }
        seq.end()
    }
}

/// Writes tensors as one JSON object in the given order.
pub fn write_object(tensors: &[(String, Tensor)]) -> String {
    let mut out = String::with_capacity(
        16 + tensors
            .iter()
            .map(|(_, t)| t.data.len() * 12)
            .sum::<usize>(),
    );
    out.push('{');
    for (i, (name, t)) in tensors.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(name).unwrap_or_default());
        out.push(':');
        write_tensor(t, &mut out);
    }
    out.push('}');
    out
}

/// Writes a JSON array of tensors (the list form of [`read_list`]).
pub fn write_list(tensors: &[Tensor]) -> String {
    let mut out = String::from("[");
    for (i, t) in tensors.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_tensor(t, &mut out);
    }
    out.push(']');
    out
}

/// One tensor as a nested array (a scalar as a bare number).
pub fn write_tensor(t: &Tensor, out: &mut String) {
    fn rec(shape: &[usize], data: &[f32], out: &mut String) {
        let Some((&n, inner)) = shape.split_first() else {
            out.push_str(ryu::Buffer::new().format_finite(data[0]));
            return;
        };
        let stride: usize = inner.iter().product();
        out.push('[');
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            rec(inner, &data[i * stride..(i + 1) * stride], out);
        }
        out.push(']');
    }
    rec(&t.shape, &t.data, out);
}

struct ObjectSeed<'a> {
    failure: &'a RefCell<Option<TensorError>>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = NamedTensors;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = NamedTensors;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of named nested arrays")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: NamedTensors = vec![];
        while let Some(name) = map.next_key::<String>()? {
            if out.iter().any(|(n, _)| *n == name) {
                return Err(de::Error::custom(format!("tensor {name:?} appears twice")));
            }
            let mut b = Builder::new(name);
            map.next_value_seed(Nested {
                b: &mut b,
                depth: 0,
                failure: self.failure,
            })?;
            let (name, tensor) = b.finish().map_err(|e| fail(self.failure, e))?;
            out.push((name, tensor));
        }
        Ok(out)
    }
}

struct ListSeed<'a> {
    failure: &'a RefCell<Option<TensorError>>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Vec<Tensor>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Vec<Tensor>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of nested arrays or numbers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = vec![];
        loop {
            let mut b = Builder::new(format!("[{}]", out.len()));
            let seed = Nested {
                b: &mut b,
                depth: 0,
                failure: self.failure,
            };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
            out.push(b.finish().map_err(|e| fail(self.failure, e))?.1);
        }
        if !out.is_empty() && out.iter().all(|t| t.shape.is_empty()) {
            let data = out.into_iter().map(|t| t.data[0]).collect::<Vec<_>>();
            return Ok(vec![Tensor::new(vec![data.len()], data)]);
        }
        Ok(out)
    }
}

fn fail<E: de::Error>(slot: &RefCell<Option<TensorError>>, e: TensorError) -> E {
    let msg = e.to_string();
    *slot.borrow_mut() = Some(e);
    E::custom(msg)
}

/// The tensor being read: values so far, each depth's length (fixed by the first array seen
/// at that depth), the depth numbers sit at, and where the reader is (for errors).
struct Builder {
    name: String,
    data: Vec<f32>,
    dims: Vec<Option<usize>>,
    leaf_depth: Option<usize>,
    path: Vec<usize>,
}

impl Builder {
    fn new(name: String) -> Self {
        Self {
            name,
            data: vec![],
            dims: vec![],
            leaf_depth: None,
            path: vec![],
        }
    }

    fn path(&self) -> String {
        if self.path.is_empty() {
            return "the top level".into();
        }
        self.path.iter().map(|i| format!("[{i}]")).collect()
    }

    fn ragged(&self, reason: String) -> TensorError {
        TensorError::Ragged {
            name: self.name.clone(),
            path: self.path(),
            reason,
        }
    }

    fn number(&mut self, depth: usize, v: f32) -> Result<(), TensorError> {
        match self.leaf_depth {
            None if self.dims.len() > depth && self.dims[depth].is_some() => {
                return Err(self.ragged("a number where an array was expected".into()))
            }
            None => self.leaf_depth = Some(depth),
            Some(d) if d != depth => {
                return Err(self.ragged(format!("a number at depth {depth}, expected depth {d}")))
            }
            Some(_) => {}
        }
        self.data.push(v);
        Ok(())
    }

    fn array_done(&mut self, depth: usize, len: usize) -> Result<(), TensorError> {
        if self.leaf_depth.is_some_and(|d| d <= depth) {
            return Err(self.ragged("an array where a number was expected".into()));
        }
        if self.dims.len() <= depth {
            self.dims.resize(depth + 1, None);
        }
        match self.dims[depth] {
            None => self.dims[depth] = Some(len),
            Some(n) if n != len => {
                return Err(self.ragged(format!("{len} elements where its siblings have {n}")))
            }
            Some(_) => {}
        }
        if len == 0 && self.leaf_depth.is_none() {
            self.leaf_depth = Some(depth + 1);
        }
        Ok(())
    }

    fn finish(self) -> Result<(String, Tensor), TensorError> {
        let shape: Vec<usize> = self.dims.iter().map(|d| d.unwrap_or(0)).collect();
        if self.leaf_depth != Some(shape.len())
            || shape.iter().product::<usize>() != self.data.len()
        {
            return Err(TensorError::Ragged {
                name: self.name,
                path: "the top level".into(),
                reason: "nesting depth differs between elements".into(),
            });
        }
        Ok((self.name, Tensor::new(shape, self.data)))
    }
}

struct Nested<'a, 'f> {
    b: &'a mut Builder,
    depth: usize,
    failure: &'f RefCell<Option<TensorError>>,
}

impl<'de> DeserializeSeed<'de> for Nested<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Nested<'_, '_> {
    fn num<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.b
            .number(self.depth, v as f32)
            .map_err(|e| fail(self.failure, e))
    }
    fn non_numeric<E: de::Error>(self) -> Result<(), E> {
        let e = TensorError::NonNumeric {
            name: self.b.name.clone(),
            path: self.b.path(),
        };
        Err(fail(self.failure, e))
    }
}

impl<'de> Visitor<'de> for Nested<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or an array")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.num(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.num(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.num(v as f64)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut len = 0;
        loop {
            self.b.path.push(len);
            let child = Nested {
                b: &mut *self.b,
                depth: self.depth + 1,
                failure: self.failure,
            };
            let more = seq.next_element_seed(child)?.is_some();
            self.b.path.pop();
            if !more {
                break;
            }
            len += 1;
        }
        self.b
            .array_done(self.depth, len)
            .map_err(|e| fail(self.failure, e))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.non_numeric()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.non_numeric()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.non_numeric()
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.non_numeric()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_shapes_and_keeps_document_order() {
        let json = br#"{"w": [[[1, 2.5], [3, -4]]], "b": [0.5, 0], "s": 3, "e": []}"#;
        let t = read_object(json).unwrap();
        assert_eq!(
            t,
            vec![
                (
                    "w".into(),
                    Tensor::new(vec![1, 2, 2], vec![1., 2.5, 3., -4.])
                ),
                ("b".into(), Tensor::new(vec![2], vec![0.5, 0.])),
                ("s".into(), Tensor::new(vec![], vec![3.])),
                ("e".into(), Tensor::new(vec![0], vec![])),
            ]
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let t = vec![
            (
                "model.0.0.weight".to_string(),
                Tensor::new(vec![2, 1, 2], vec![0.1, -2., 3e-8, 4.]),
            ),
            ("s".to_string(), Tensor::new(vec![], vec![1.5])),
        ];
        let text = write_object(&t);
        assert_eq!(
            text,
            r#"{"model.0.0.weight":[[[0.1,-2.0]],[[3e-8,4.0]]],"s":1.5}"#
        );
        assert_eq!(read_object(text.as_bytes()).unwrap(), t);
        let list = write_list(&[t[0].1.clone()]);
        assert_eq!(read_list(list.as_bytes()).unwrap(), vec![t[0].1.clone()]);
    }

    #[test]
    fn ragged_arrays_name_the_tensor_and_index() {
        let err = read_object(br#"{"ok": [1], "w": [[1, 2], [3]]}"#).unwrap_err();
        assert_eq!(
            err,
            TensorError::Ragged {
                name: "w".into(),
                path: "[1]".into(),
                reason: "1 elements where its siblings have 2".into()
            }
        );
        let err = read_object(br#"{"w": [[1, 2], 3]}"#).unwrap_err();
        assert!(
            matches!(err, TensorError::Ragged { ref path, .. } if path == "[1]"),
            "{err}"
        );
        let err = read_object(br#"{"w": [1, [2]]}"#).unwrap_err();
        assert!(
            matches!(err, TensorError::Ragged { ref path, .. } if path == "[1][0]"),
            "{err}"
        );
    }

    #[test]
    fn non_numbers_name_the_tensor_and_index() {
        for bad in [
            r#"{"w": [[1, "2"]]}"#,
            r#"{"w": [[1, null]]}"#,
            r#"{"w": [[1, true]]}"#,
        ] {
            let err = read_object(bad.as_bytes()).unwrap_err();
            assert_eq!(
                err,
                TensorError::NonNumeric {
                    name: "w".into(),
                    path: "[0][1]".into()
                }
            );
        }
    }

    #[test]
    fn malformed_json_and_duplicates_are_errors() {
        assert!(matches!(
            read_object(b"{\"w\": [1, 2"),
            Err(TensorError::Json(_))
        ));
        assert!(matches!(read_object(b"[1]"), Err(TensorError::Json(_))));
        assert!(matches!(
            read_object(br#"{"w": [1], "w": [2]}"#),
            Err(TensorError::Json(_))
        ));
        assert!(matches!(
            read_object(br#"{"w": [1]} x"#),
            Err(TensorError::Json(_))
        ));
    }

    #[test]
    fn lists_of_tensors_or_of_numbers() {
        let t = read_list(b"[[1, 2], [[3]], 4]").unwrap();
        let shapes: Vec<_> = t.iter().map(|t| t.shape.clone()).collect();
        assert_eq!(shapes, vec![vec![2], vec![1, 1], vec![]]);
        assert_eq!(
            read_list(b"[1, 2, 3]").unwrap(),
            vec![Tensor::new(vec![3], vec![1., 2., 3.])]
        );
    }

    #[test]
    fn embedded_in_a_larger_body() {
        #[derive(serde::Deserialize)]
        struct Body {
            weights: JsonTensors,
        }
        let b: Body = serde_json::from_str(r#"{"runid": "1", "weights": {"w": [1, 2]}}"#).unwrap();
        assert_eq!(b.weights.0[0].1.shape, vec![2]);
        let again = serde_json::to_string(&b.weights).unwrap();
        assert_eq!(again, r#"{"w":[1.0,2.0]}"#);
        let err = serde_json::from_str::<Body>(r#"{"weights": {"w": [[1], [2, 3]]}}"#)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("tensor \"w\" is ragged at [1]"),
            "{err}"
        );
    }
}
