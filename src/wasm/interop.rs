//! Conversions between JavaScript values and the core's types, as automerge-wasm's `interop.rs`:
//! every value that comes in is checked for type here (a node id must be a whole number, a key a
//! string, an options object has no unknown fields), and every error goes out as a short,
//! human message.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

use super::{MAX_RUN_MS, PAGE_MAX_NODES};
use crate::settings::{Consistency, SettingsPatch};
use crate::sim::{ClientOptions, Context};
use crate::{Error, NodeId, Time};

/// An error for the page: short and human whatever it quotes (see [`crate::error::humane`]).
pub(super) fn js_error(err: impl std::fmt::Display) -> JsError {
    JsError::new(&crate::error::humane(&err.to_string()))
}

pub(super) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_error)
}

/// Reads a plain JS object as `T` (through JSON, so that unknown and missing fields are
/// caught), naming the offending field in the error.
pub(super) fn from_js<T: DeserializeOwned>(what: &str, value: JsValue) -> Result<T, JsError> {
    // JSON has no NaN or Infinity: JSON.stringify writes null, which here means "no change",
    // so `{loss: NaN}` would be dropped without a word. Look for them first.
    let mut path = String::new();
    if let Some(bad) = non_finite(&value, &mut path, 0) {
        return Err(js_error(format!(
            "{what}{path}: {bad} is not a number that can be used"
        )));
    }
    let json = js_sys::JSON::stringify(&value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| {
            js_error(format!(
                "{what}: not plain data (numbers, strings, true or false)"
            ))
        })?;
    let mut deserializer = serde_json::Deserializer::from_str(&json);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        // serde_json adds where in the JSON text it stopped; the path says it better here.
        let inner = err.into_inner().to_string();
        let inner = match inner.rfind(" at line ") {
            Some(cut) => &inner[..cut],
            None => &inner,
        };
        if path == "." {
            js_error(format!("{what}: {inner}"))
        } else {
            js_error(format!("{what}.{path}: {inner}"))
        }
    })
}

/// Where in `value` a number is NaN or infinite (its path, in `path`), and which it is; plain
/// objects and arrays are looked into, 16 levels deep at most (deeper, no setting or option
/// is meant, and the reading refuses it anyway).
pub(super) fn non_finite(value: &JsValue, path: &mut String, depth: u32) -> Option<String> {
    if let Some(x) = value.as_f64() {
        return match x {
            _ if x.is_nan() => Some("NaN".into()),
            f64::INFINITY => Some("Infinity".into()),
            f64::NEG_INFINITY => Some("-Infinity".into()),
            _ => None,
        };
    }
    if depth >= 16 || !value.is_object() || value.is_function() {
        return None;
    }
    let entries = js_sys::Object::entries(value.unchecked_ref::<js_sys::Object>());
    for entry in entries.iter() {
        let entry: js_sys::Array = entry.unchecked_into();
        let (key, inner) = (entry.get(0), entry.get(1));
        let len = path.len();
        let key: String = key
            .as_string()
            .unwrap_or_default()
            .chars()
            .take(40)
            .collect();
        path.push('.');
        path.push_str(&key);
        if let Some(bad) = non_finite(&inner, path, depth + 1) {
            return Some(bad);
        }
        path.truncate(len);
    }
    None
}

/// A settings patch from JS: `undefined` or `null` means "no change".
pub(super) fn patch_from_js(value: JsValue) -> Result<SettingsPatch, JsError> {
    let Some(value) = object_or_none(value, "settings", "{ loss: 0.1 }")? else {
        return Ok(SettingsPatch::default());
    };
    let patch: SettingsPatch = from_js("settings", value)?;
    within_page(&patch).map_err(js_error)?;
    Ok(patch)
}

/// Refuses more nodes than the page draws, from settings, a session or a lesson alike.
pub(super) fn within_page(patch: &SettingsPatch) -> Result<(), String> {
    match patch.nodes {
        Some(nodes) if nodes > PAGE_MAX_NODES => Err(format!(
            "setting nodes: {nodes} nodes is out of range: the page draws 1 to {PAGE_MAX_NODES}"
        )),
        _ => Ok(()),
    }
}

/// Options of a write or a delete from JS: `{session, context, w}`.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WriteOptions {
    session: Option<String>,
    context: Option<Context>,
    w: Option<Consistency>,
}

/// Options of a read from JS: `{session, r}`.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReadOptions {
    session: Option<String>,
    r: Option<Consistency>,
}

/// Options from JS: `undefined` or `null` means none.
pub(super) fn options_from_js<T: DeserializeOwned + Default>(value: JsValue) -> Result<T, JsError> {
    match object_or_none(value, "options", "{ session: \"alice\" }")? {
        Some(value) => from_js("options", value),
        None => Ok(T::default()),
    }
}

/// `value` if it is an object, None if it is `undefined` or `null` (nothing given), and an
/// error naming `what` with an `example` otherwise.
fn object_or_none(value: JsValue, what: &str, example: &str) -> Result<Option<JsValue>, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if !value.is_object() || js_sys::Array::is_array(&value) {
        return Err(js_error(format!(
            "{what} must be an object such as {example}, not {}",
            describe(&value)
        )));
    }
    Ok(Some(value))
}

impl From<WriteOptions> for ClientOptions {
    fn from(o: WriteOptions) -> Self {
        ClientOptions {
            session: o.session,
            context: o.context,
            quorum: o.w,
        }
    }
}

impl From<ReadOptions> for ClientOptions {
    fn from(o: ReadOptions) -> Self {
        ClientOptions {
            session: o.session,
            context: None,
            quorum: o.r,
        }
    }
}

/// A short description of a JS value for error messages.
pub(super) fn describe(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        let short: String = s.chars().take(40).collect();
        format!("the string \"{short}\"")
    } else if let Some(x) = value.as_f64() {
        format!("the number {}", number(x))
    } else if value.is_undefined() {
        "nothing (undefined)".into()
    } else if value.is_null() {
        "null".into()
    } else if let Some(b) = value.as_bool() {
        format!("{b}")
    } else if js_sys::Array::is_array(value) {
        "an array".into()
    } else {
        "an object".into()
    }
}

/// A number as a person reads it: 1e300 in that form, not as 301 digits.
pub(super) fn number(x: f64) -> String {
    if x.is_finite() && x.abs() >= 1e15 {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// A whole number from JS, or an error naming `what`.
pub(super) fn whole_number(what: &str, value: &JsValue) -> Result<f64, JsError> {
    match value.as_f64() {
        Some(x) if x.is_finite() && x.fract() == 0.0 => Ok(x),
        _ => Err(js_error(format!(
            "{what} must be a whole number, not {}",
            describe(value)
        ))),
    }
}

pub(super) fn node_id(value: &JsValue, nodes: u32) -> Result<NodeId, JsError> {
    let x = whole_number("a node id", value)?;
    if x < 1.0 || x > f64::from(nodes) {
        return Err(js_error(Error::UnknownNode {
            id: x as i64,
            nodes,
        }));
    }
    Ok(NodeId(x as u32))
}

pub(super) fn text(what: &str, value: &JsValue) -> Result<String, JsError> {
    value.as_string().ok_or_else(|| {
        js_error(format!(
            "the {what} must be a string, not {}",
            describe(value)
        ))
    })
}

pub(super) fn milliseconds(value: &JsValue) -> Result<Time, JsError> {
    milliseconds_to(value, MAX_RUN_MS)
}

/// A time in milliseconds from 0 to `max`, or an error.
pub(super) fn milliseconds_to(value: &JsValue, max: f64) -> Result<Time, JsError> {
    match value.as_f64() {
        Some(x) if x.is_finite() && (0.0..=max).contains(&x) => Ok(x.floor() as Time),
        _ => Err(js_error(format!(
            "give a time in milliseconds from 0 to {max}, not {}",
            describe(value)
        ))),
    }
}
