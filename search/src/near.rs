//! `near` on Location.position: `near=latitude|longitude|distance|units` (R4 search.html "Special").
//!
//! A position is stored as two number rows of one group (`near$0` latitude, `near$1` longitude),
//! like a composite. Distance is the equirectangular approximation, plain arithmetic so both
//! backends compute the same: within 0.1 % of the great-circle distance below a few hundred
//! kilometres away from the poles, which is what "near" is for.

use crate::query::SearchError;
use crate::IndexRow;

/// Kilometres per degree of latitude (mean Earth radius 6,371.0088 km).
const KM_PER_DEGREE: f64 = 111.195_08;
/// The distance used when the query gives none (search.html leaves it to the server).
pub const DEFAULT_KM: f64 = 50.0;

/// The position rows for one `Location.position` item; returns whether it had both coordinates.
pub(crate) fn position_rows(code: &str, item: &fhirpath::Item<'_>, grp: u32, out: &mut Vec<IndexRow>) -> bool {
    let Some(pos) = item.json() else { return false };
    let coord = |k: &str| pos.get(k).and_then(serde_json::Value::as_f64);
    let (Some(lat), Some(long)) = (coord("latitude"), coord("longitude")) else { return false };
    for (i, v) in [lat, long].into_iter().enumerate() {
        let row = IndexRow::Number { param: format!("{code}${i}"), value: v, low: v, high: v };
        out.push(IndexRow::Composite { grp, row: Box::new(row) });
    }
    true
}

/// A parsed `near` value: the point and the radius in kilometres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Near {
    pub lat: f64,
    pub long: f64,
    pub km: f64,
}

pub(crate) fn parse(name: &str, value: &str) -> Result<Near, SearchError> {
    let err = |m: String| SearchError { param: name.to_string(), message: m, not_ready: false };
    let parts: Vec<&str> = value.split('|').collect();
    if !(2..=4).contains(&parts.len()) {
        return Err(err(format!("'{value}' is not latitude|longitude[|distance[|units]]")));
    }
    let num = |s: &str, what: &str| s.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(|| err(format!("'{s}' is not a {what}")));
    let lat = num(parts[0], "latitude")?;
    let long = num(parts[1], "longitude")?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&long) {
        return Err(err(format!("{lat}, {long} is not a position on Earth")));
    }
    let distance = match parts.get(2) {
        Some(d) if !d.is_empty() => num(d, "distance")?,
        _ => DEFAULT_KM,
    };
    if distance <= 0.0 {
        return Err(err("the distance must be positive".into()));
    }
    let per_unit = match parts.get(3).copied().unwrap_or("km") {
        "km" | "" => 1.0,
        "m" => 0.001,
        "[mi_i]" | "mi" => 1.609_344,
        "[mi_us]" => 1.609_347_218_694_437,
        "[nmi_i]" => 1.852,
        u => return Err(err(format!("unit '{u}' is not a UCUM length this server knows (km, m, [mi_i], [mi_us], [nmi_i])"))),
    };
    Ok(Near { lat, long, km: distance * per_unit })
}

/// The numbers of a `near` condition on a latitude `a` and a longitude `b`:
/// `a BETWEEN lat_range AND (a - lat)² · ky2 + (b - long)² · kx2 <= d2 [AND b BETWEEN long_range]`.
pub(crate) struct Bounds {
    pub lat_range: (f64, f64),
    pub long_range: Option<(f64, f64)>,
    pub ky2: f64,
    pub kx2: f64,
    pub d2: f64,
}

impl Near {
    /// The condition's numbers (see [`Bounds`]).
    pub(crate) fn bounds(&self) -> Bounds {
        let dlat = self.km / KM_PER_DEGREE;
        let kx = KM_PER_DEGREE * self.lat.to_radians().cos();
        Bounds {
            lat_range: (self.lat - dlat, self.lat + dlat),
            // A longitude box helps the planner, except where degrees of longitude shrink to nothing.
            long_range: (kx > 1.0).then(|| (self.long - self.km / kx, self.long + self.km / kx)),
            ky2: KM_PER_DEGREE * KM_PER_DEGREE,
            kx2: kx * kx,
            d2: self.km * self.km,
        }
    }
}
