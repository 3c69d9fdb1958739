//! A number that may not be finite, in JSON (which has no NaN or
//! infinity, and serde_json would write `null`, which does not read back
//! as a number): finite values as numbers, the others as "NaN", "inf" and
//! "-inf". A risk ratio from a fit on the edge can be infinite, and a
//! shard's tallies must read back as they were written.
use serde::{Deserialize, Deserializer, Serializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Finite(f64),
    Text(String),
}

pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    match *v {
        v if v.is_finite() => s.serialize_f64(v),
        v if v.is_nan() => s.serialize_str("NaN"),
        v if v > 0.0 => s.serialize_str("inf"),
        _ => s.serialize_str("-inf"),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match Number::deserialize(d)? {
        Number::Finite(v) => Ok(v),
        Number::Text(t) => match t.as_str() {
            "NaN" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            other => Err(serde::de::Error::custom(format!(
                "'{other}' is not a number"
            ))),
        },
    }
}

/// An optional triple of such numbers.
pub mod triple {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Triple(
        #[serde(with = "super")] f64,
        #[serde(with = "super")] f64,
        #[serde(with = "super")] f64,
    );

    pub fn serialize<S: Serializer>(v: &Option<(f64, f64, f64)>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|(a, b, c)| Triple(a, b, c)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<(f64, f64, f64)>, D::Error> {
        Ok(Option::<Triple>::deserialize(d)?.map(|Triple(a, b, c)| (a, b, c)))
    }
}
